import {
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
} from '@backstage/errors';
import {
  modelHubAdminPermission,
  modelHubModelCreatePermission,
  modelHubSyncTriggerPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import { Request, Router } from 'express';
import { z } from 'zod';
import { RouteContext, principalRef } from '../service/context';
import { listParam, parseInput } from '../service/validation';
import { BODY_LIMITS, jsonBody } from '../service/jsonBody';
import { HuggingFaceStore } from './HuggingFaceStore';
import { parseModelCard } from './metadata';
import { MAX_CARD_BYTES, versionLabelOf } from './HuggingFaceSync';
import { SourceRegistry } from '../sources/SourceRegistry';
import { assertKnownSource } from '../sources/routes';
import { SourceStore, sourceProblem } from '../sources/SourceStore';

const json = jsonBody(BODY_LIMITS.small);
const list = jsonBody(BODY_LIMITS.list);

const HF_REPO_PATTERN = /^[A-Za-z0-9][\w.-]{0,95}\/[A-Za-z0-9][\w.-]{0,95}$/;
const REVISION_PATTERN = /^[\w.\-/]{1,255}$/;
const SOURCE_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
const sourceField = z.string().regex(SOURCE_PATTERN, 'must be a source name');

const registerBody = z.strictObject({
  repoId: z.string().regex(HF_REPO_PATTERN, 'must be <org>/<name>'),
  revision: z.string().regex(REVISION_PATTERN).default('main'),
  owner: z.string().min(1).max(255).optional(),
  lifecycle: z.string().min(1).max(64).optional(),
  /** The model source (`GET /sources`); default: the first Hub source. */
  source: sourceField.optional(),
});

const sourceQuery = z.object({ source: sourceField.optional() });

const repoParams = z.object({
  org: z.string().regex(/^[A-Za-z0-9][\w.-]{0,95}$/),
  name: z.string().regex(/^[A-Za-z0-9][\w.-]{0,95}$/),
});

const pageQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** Only repos in these sync states (the jobs page lists the failed ones). */
const syncStateQuery = z.object({
  syncState: listParam(z.enum(['pending', 'synced', 'failed'])),
});

const previewQuery = z.object({
  revision: z.string().regex(REVISION_PATTERN).default('main'),
  source: sourceField.optional(),
});

const deleteQuery = z.object({
  deleteModel: z.enum(['true', 'false']).default('false'),
  source: sourceField.optional(),
});

const downloadBody = z.strictObject({
  version: z.string().min(1).max(128).optional(),
  files: z.array(z.string().min(1).max(1024)).min(1).max(10_000).optional(),
});

/** Normalises an owner reference to `kind:namespace/name`, lower case. */
function ownerRef(value: string): string {
  const m = /^(?:([\w-]+):)?(?:([\w.-]+)\/)?([\w.-]+)$/.exec(value.trim());
  if (!m) {
    throw new InputError(`Invalid owner '${value}'`);
  }
  return `${m[1] ?? 'group'}:${m[2] ?? 'default'}/${m[3]}`.toLocaleLowerCase(
    'en-US',
  );
}

/**
 * Routes of the Hugging Face sync: registration, the list of registered
 * repos, their removal, and download requests.
 *
 * @internal
 */
export function addHuggingFaceRoutes(
  router: Router,
  ctx: RouteContext,
  deps: {
    /** The model sources: each Hub source has its client and sync. */
    registry: SourceRegistry;
    /** The store of every source. */
    hfStore: HuggingFaceStore;
    sourceStore: SourceStore;
  },
) {
  const { registry, hfStore, sourceStore } = deps;

  /** The Hub source a request names (400 for an unknown one), or the default. */
  function hubOf(source: string | undefined) {
    assertKnownSource(registry, source);
    return registry.hub(source);
  }

  /**
   * The registered repo of the path; `?source=` picks one when the same id
   * is registered from several sources (409 without it).
   */
  async function requireRepo(req: Request) {
    const p = parseInput(repoParams, req.params, 'repository');
    const { source } = parseInput(sourceQuery, { source: req.query.source }, 'query');
    const repoId = `${p.org}/${p.name}`;
    const found = (await hfStore.findRepos(repoId)).filter(
      r => !source || r.source === source,
    );
    if (!found.length) {
      throw new NotFoundError(
        `${repoId} is not registered${source ? ` from the source ${source}` : ''}`,
      );
    }
    if (found.length > 1) {
      throw new ConflictError(
        `${repoId} is registered from several sources (${found
          .map(r => r.source)
          .join(', ')}); name one with ?source=`,
      );
    }
    return found[0];
  }

  router.post('/huggingface/repos', json, async (req, res) => {
    const body = parseInput(registerBody, req.body, 'registration');
    const result = await ctx.audited(
      req,
      { eventId: 'huggingface-register', meta: { repoId: body.repoId } },
      async () => {
        const credentials = await ctx.authorize(
          req,
          modelHubModelCreatePermission,
        );
        let owner: string;
        if (ctx.options.auth.isPrincipal(credentials, 'user')) {
          const userRef = credentials.principal.userEntityRef;
          owner = body.owner ? ownerRef(body.owner) : userRef.toLocaleLowerCase('en-US');
          const { ownershipEntityRefs } =
            await ctx.options.userInfo.getUserInfo(credentials);
          const owns = ownershipEntityRefs
            .map(r => r.toLocaleLowerCase('en-US'))
            .includes(owner);
          if (!owns && !(await ctx.isAllowed(req, modelHubAdminPermission))) {
            throw new NotAllowedError(
              `You can only register models owned by you or one of your groups, not ${owner}`,
            );
          }
        } else if (body.owner) {
          owner = ownerRef(body.owner);
        } else {
          throw new InputError('owner is required when a service registers a repository');
        }
        const registered = await hubOf(body.source).sync.register({
          repoId: body.repoId,
          revision: body.revision,
          owner,
          lifecycle: body.lifecycle,
          createdBy: principalRef(credentials),
        });
        return {
          result: registered,
          credentials,
          meta: {
            modelRef: registered.model.entityRef,
            jobId: registered.jobId,
            source: registered.repo.source,
          },
        };
      },
    );
    res.status(202).json(result);
  });

  // a preview of a Hub repo before its registration; registers nothing
  router.get('/huggingface/preview/:org/:name', async (req, res) => {
    await ctx.authorize(req, modelHubModelCreatePermission);
    const p = parseInput(repoParams, req.params, 'repository');
    const { revision, source } = parseInput(previewQuery, req.query, 'query');
    const { client } = hubOf(source);
    const repoId = `${p.org}/${p.name}`;
    const info = await client.getModelInfo(repoId, revision);
    const files = await client.listFiles(repoId, info.sha);
    if (info.gated) {
      // metadata of gated repos is public, their files are not: probe one,
      // as the registration does, so that a gate without access answers 403
      const probe = files.find(
        f => f.path !== 'README.md' && f.path !== '.gitattributes',
      );
      if (probe) {
        const probed = await client.fetchFile(repoId, info.sha, probe.path, {
          headers: { Range: 'bytes=0-0' },
        });
        await probed.body?.cancel();
      }
    }
    const card = files.some(f => f.path === 'README.md')
      ? await client.readText(repoId, info.sha, 'README.md', undefined, {
          maxBytes: MAX_CARD_BYTES,
          truncate: true,
        })
      : undefined;
    const metadata = parseModelCard(card);
    res.json({
      repoId,
      source: source ?? registry.defaultHubSource()?.name,
      revision,
      sha: info.sha,
      private: info.private,
      gated: info.gated,
      pipelineTag: info.pipelineTag ?? metadata.pipelineTag,
      libraryName: info.libraryName ?? metadata.libraryName,
      license: metadata.license,
      tags: info.tags,
      files: files.map(f => ({
        path: f.path,
        size: f.lfs?.size ?? f.size,
        ...(f.lfs && { lfsSha256: f.lfs.sha256 }),
      })),
      card,
    });
  });

  router.get('/huggingface/repos', async (req, res) => {
    await ctx.credentials(req);
    const q = parseInput(
      pageQuery.merge(sourceQuery).merge(syncStateQuery),
      req.query,
      'query',
    );
    const { items, totalCount } = await hfStore.listRepos({
      ...q,
      readable: await ctx.readCondition(req),
    });
    res.json({ items, totalCount, offset: q.offset, limit: q.limit });
  });

  router.get('/huggingface/repos/:org/:name', async (req, res) => {
    await ctx.credentials(req);
    const repo = await requireRepo(req);
    await ctx.assertReadable(
      req,
      repo.modelRef,
      `${repo.repoId} is not registered`,
    );
    // the problem of its source (credentials invalid, unreachable), if any
    const problem = sourceProblem(await sourceStore.getStatus(repo.source));
    res.json({
      ...repo,
      ...(problem && { sourceProblem: problem }),
      files: await hfStore.listFiles(repo.id),
    });
  });

  router.delete('/huggingface/repos/:org/:name', async (req, res) => {
    const repo = await requireRepo(req);
    const q = parseInput(deleteQuery, req.query, 'query');
    const deleteModel = q.deleteModel === 'true';
    await ctx.audited(
      req,
      {
        eventId: 'huggingface-unregister',
        severityLevel: deleteModel ? 'high' : 'medium',
        meta: {
          repoId: repo.repoId,
          source: repo.source,
          modelRef: repo.modelRef,
          deleteModel,
        },
      },
      async () => {
        const credentials = deleteModel
          ? await ctx.authorize(req, modelHubAdminPermission)
          : await ctx.authorize(req, modelHubSyncTriggerPermission, repo.modelRef);
        await hfStore.deleteRepo({
          id: repo.id,
          modelId: repo.modelId,
          modelRef: repo.modelRef,
          deleteModel,
        });
        return { result: undefined, credentials };
      },
    );
    res.status(204).end();
  });

  router.post('/huggingface/repos/:org/:name/download', list, async (req, res) => {
    const repo = await requireRepo(req);
    const body = parseInput(downloadBody, req.body ?? {}, 'download request');
    const jobId = await ctx.audited(
      req,
      {
        eventId: 'huggingface-download',
        meta: { repoId: repo.repoId, source: repo.source, modelRef: repo.modelRef },
      },
      async () => {
        const credentials = await ctx.authorize(
          req,
          modelHubSyncTriggerPermission,
          repo.modelRef,
        );
        if (!repo.lastSyncedCommit) {
          throw new InputError(`${repo.repoId} has not been synced yet`);
        }
        const label = body.version ?? versionLabelOf(repo.lastSyncedCommit);
        const version = await ctx.store.getVersion({ modelId: repo.modelId, label });
        if (!version || !version.resolvedCommit) {
          throw new NotFoundError(`Version ${label} of ${repo.modelRef} not found`);
        }
        const id = await hubOf(repo.source).sync.enqueueDownload({
          modelId: repo.modelId,
          versionId: version.id,
          repoId: repo.repoId,
          commit: version.resolvedCommit,
          paths: body.files,
          createdBy: principalRef(credentials),
        });
        return { result: id, credentials, meta: { jobId: id ?? null } };
      },
    );
    res.status(202).json({ jobId });
  });
}
