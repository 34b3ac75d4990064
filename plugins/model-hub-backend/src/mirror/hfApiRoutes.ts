import express, { Router } from 'express';
import { trimChar } from '../service/linearText';
import { BODY_LIMITS, jsonBody } from '../service/jsonBody';
import { entryNotFound, HfError } from './errors';
import { RepoEntry, RepoFile, repoIdOf } from './repository';
import {
  bool,
  encodePath,
  filePath,
  HfRouteContext,
  param,
  readCursor,
  treeEntry,
  writeCursor,
} from './hfRequest';

/**
 * The metadata routes of the mirror's Hub API, under `/hf/api`: whoami,
 * model info, refs, tree and paths-info.
 *
 * @internal
 */
export function addHfApiRoutes(router: Router, context: HfRouteContext) {
  const { options, handle, authorizedModel, authorizedSnapshot } = context;
  const { repository, access } = options;

  const modelInfo = handle(async (req, res) => {
    const revision = req.params.rev !== undefined ? param(req, 'rev') : 'main';
    const snapshot = await authorizedSnapshot(req, revision);
    const { model, version } = snapshot;
    const blobs = bool(req.query.blobs);
    const files = snapshot.entries.filter(
      (e): e is RepoFile => e.type === 'file',
    );
    res.setHeader('Cache-Control', 'private, no-cache');
    res.json({
      _id: model.id,
      // the repo id the client asked for (a portal or an upstream id)
      id: `${param(req, 'org')}/${param(req, 'name')}`,
      modelId: `${param(req, 'org')}/${param(req, 'name')}`,
      author: model.namespace,
      sha: snapshot.commit,
      lastModified: version.updatedAt,
      createdAt: model.createdAt,
      private: true,
      gated: false,
      disabled: false,
      downloads: 0,
      likes: 0,
      ...(model.task ? { pipeline_tag: model.task } : {}),
      tags: model.tags,
      ...(model.license ? { cardData: { license: model.license } } : {}),
      usedStorage: version.totalSize,
      siblings: files.map(f =>
        blobs
          ? {
              rfilename: f.path,
              size: f.size,
              blobId: f.oid,
              ...(f.lfs
                ? {
                    lfs: {
                      sha256: f.lfs.oid,
                      size: f.lfs.size,
                      pointerSize: f.lfs.pointerSize,
                    },
                  }
                : {}),
            }
          : { rfilename: f.path },
      ),
    });
  });
  // `huggingface-cli login` / `whoami` check a token here
  router.get(
    '/hf/api/whoami-v2',
    handle(async (req, res) => {
      const caller = await access.authenticate(req);
      const principal =
        caller.type === 'credentials'
          ? (caller.credentials.principal as {
              type: string;
              userEntityRef?: string;
              subject?: string;
            })
          : undefined;
      const ref =
        (caller.type === 'token' && caller.token.userEntityRef) ||
        principal?.userEntityRef ||
        principal?.subject;
      if (!ref) {
        throw new HfError(
          401,
          undefined,
          'Invalid credentials in Authorization header',
        );
      }
      const name = ref.replace(/^[^:]+:/, '').replace(/^default\//, '');
      res.setHeader('Cache-Control', 'private, no-store');
      res.json({
        type: 'user',
        id: ref,
        name,
        fullname: name,
        orgs: [],
        auth: {
          type: 'access_token',
          accessToken: {
            displayName:
              caller.type === 'token' ? caller.token.name : 'Backstage token',
            role: 'read',
          },
        },
      });
    }),
  );
  router.get('/hf/api/models/:org/:name', modelInfo);
  router.get('/hf/api/models/:org/:name/revision/:rev', modelInfo);

  router.get(
    '/hf/api/models/:org/:name/refs',
    handle(async (req, res) => {
      const model = await authorizedModel(req);
      const { versions, active } = await repository.servable(model);
      if (!active) {
        throw new HfError(
          404,
          'RepoNotFound',
          `Repository ${repoIdOf(model)} has no approved version`,
        );
      }
      const commits = new Map<string, string>();
      for (const version of versions) {
        commits.set(
          version.id,
          (await repository.snapshot(model, version)).commit,
        );
      }
      res.setHeader('Cache-Control', 'private, no-cache');
      res.json({
        branches: [
          {
            name: 'main',
            ref: 'refs/heads/main',
            targetCommit: commits.get(active.id),
          },
        ],
        tags: versions.map(v => ({
          name: v.label,
          ref: `refs/tags/${v.label}`,
          targetCommit: commits.get(v.id),
        })),
        converts: [],
      });
    }),
  );

  const tree = handle(async (req, res) => {
    const revision = param(req, 'rev');
    const dir = (req.params as Record<string, string>)[0] ? filePath(req) : '';
    const snapshot = await authorizedSnapshot(req, revision);
    const recursive = bool(req.query.recursive);
    const expand = bool(req.query.expand);
    if (dir !== '') {
      const entry = snapshot.byPath.get(dir);
      if (!entry || entry.type !== 'directory') {
        throw entryNotFound(dir, snapshot.commit);
      }
    }
    const prefix = dir === '' ? '' : `${dir}/`;
    const matching = snapshot.entries.filter(e => {
      if (!e.path.startsWith(prefix)) {
        return false;
      }
      return recursive || !e.path.slice(prefix.length).includes('/');
    });
    const limitParam =
      req.query.limit !== undefined ? Number(req.query.limit) : undefined;
    if (
      limitParam !== undefined &&
      (!Number.isInteger(limitParam) || limitParam < 1)
    ) {
      throw new HfError(400, undefined, 'Invalid limit');
    }
    const limit = Math.min(limitParam ?? options.treePageSize, 10_000);
    const { offset } = readCursor(req.query.cursor);
    const page = matching.slice(offset, offset + limit);
    if (offset + limit < matching.length) {
      const base = await options.discovery.getExternalBaseUrl('model-hub');
      const url =
        `${base}/hf/api/models/${encodeURIComponent(
          param(req, 'org'),
        )}/${encodeURIComponent(param(req, 'name'))}/tree/${encodeURIComponent(
          revision,
        )}${dir ? `/${encodePath(dir)}` : ''}` +
        `?recursive=${recursive}&expand=${expand}&limit=${limit}&cursor=${writeCursor(
          { offset: offset + limit },
        )}`;
      res.setHeader('Link', `<${url}>; rel="next"`);
    }
    res.setHeader('X-Repo-Commit', snapshot.commit);
    res.setHeader('Cache-Control', 'private, no-cache');
    res.json(page.map(e => treeEntry(e, snapshot, expand)));
  });
  router.get('/hf/api/models/:org/:name/tree/:rev', tree);
  router.get('/hf/api/models/:org/:name/tree/:rev/*', tree);

  router.post(
    '/hf/api/models/:org/:name/paths-info/:rev',
    jsonBody(BODY_LIMITS.list),
    express.urlencoded({
      extended: false,
      limit: BODY_LIMITS.list,
      parameterLimit: 1000,
    }),
    handle(async (req, res) => {
      const body = (req.body ?? {}) as { paths?: unknown; expand?: unknown };
      const raw = body.paths;
      const list: unknown[] = Array.isArray(raw) ? raw : [raw];
      const paths = list
        .filter((p): p is string => typeof p === 'string')
        .map(p => trimChar(p, '/'));
      const snapshot = await authorizedSnapshot(req, param(req, 'rev'));
      const expand = bool(body.expand);
      const found: RepoEntry[] = [];
      for (const path of new Set(paths)) {
        const entry = snapshot.byPath.get(path);
        if (entry) {
          found.push(entry);
        }
      }
      res.setHeader('X-Repo-Commit', snapshot.commit);
      res.setHeader('Cache-Control', 'private, no-cache');
      res.json(found.map(e => treeEntry(e, snapshot, expand)));
    }),
  );
}
