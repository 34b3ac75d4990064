import { pipeline } from 'node:stream/promises';
import { ConflictError, InputError } from '@backstage/errors';
import {
  EDITABLE_VERSION_STATES,
  modelHubArtifactDownloadPermission,
  modelHubArtifactUploadPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import { Request, Response, Router } from 'express';
import type { HubFileList } from '@model-hub/backstage-plugin-model-hub-common';
import { HubVersion } from '../../database/types';
import { RouteContext, principalRef } from '../context';
import { recordDownloadSafely } from './activity';
import { buildFileTree } from '../fileTree';
import { ingestFile } from '../ingest';
import { parseRange, writeFileHead } from '../range';
import {
  parseFilePath,
  parseInput,
  uploadQuery,
  versionParams,
} from '../validation';

/**
 * Fails early (before a body is read) for versions whose files cannot
 * change; the store checks again when the file is committed.
 */
function assertMutable(version: HubVersion) {
  if (!EDITABLE_VERSION_STATES.includes(version.state)) {
    throw new ConflictError(
      `Version ${version.label} is ${version.state}; files can only change in a draft version or one with changes requested`,
    );
  }
}

function contentDisposition(path: string): string {
  const base = path.split('/').pop()!;
  const ascii = base.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(
    base,
  )}`;
}

const FILE_ROUTE = '/models/:namespace/:name/versions/:label/files/*';

/** Routes of the files of a version. @internal */
export function addFileRoutes(router: Router, ctx: RouteContext) {
  const { store, artifacts } = ctx.options;

  async function lookup(req: Request) {
    const params = parseInput(versionParams, req.params, 'version reference');
    const model = await ctx.requireModel(params);
    const version = await ctx.requireVersion(model, params.label);
    return { model, version };
  }

  router.get(
    '/models/:namespace/:name/versions/:label/files',
    async (req, res) => {
      await ctx.credentials(req);
      const { version } = await lookup(req);
      const files = await store.listFiles({ versionId: version.id });
      res.json({ files, tree: buildFileTree(files) } satisfies HubFileList);
    },
  );

  router.put(FILE_ROUTE, async (req, res) => {
    const path = parseFilePath((req.params as any)[0]);
    const query = parseInput(uploadQuery, req.query, 'upload query');
    const lengthHeader = req.headers['content-length'];
    const expectedSize =
      lengthHeader !== undefined ? Number(lengthHeader) : undefined;
    if (expectedSize !== undefined && !Number.isSafeInteger(expectedSize)) {
      throw new InputError('Invalid Content-Length');
    }
    const { maxUploadBytes } = ctx.options;
    if (expectedSize !== undefined && expectedSize > maxUploadBytes) {
      throw new InputError(
        `The file is larger than the limit of ${maxUploadBytes} bytes`,
      );
    }
    const { model, version } = await lookup(req);
    const result = await ctx.audited(
      req,
      {
        eventId: 'artifact-upload',
        meta: { modelRef: model.entityRef, versionLabel: version.label, path },
      },
      async () => {
        const credentials = await ctx.authorize(
          req,
          modelHubArtifactUploadPermission,
          model.entityRef,
        );
        assertMutable(version);
        const ingested = await ingestFile({
          store,
          artifacts,
          versionId: version.id,
          path,
          kind: query.kind,
          content: req,
          expectedSha256: query.sha256,
          expectedSize,
          maxSize: maxUploadBytes,
          createdBy: principalRef(credentials),
          inspect: ctx.options.inspection
            ? (versionId, file) =>
                ctx.options.inspection!.inspectStoredFile(
                  versionId,
                  file,
                  artifacts,
                )
            : undefined,
          onInspectionError: error =>
            ctx.options.logger.warn(`Inspection of ${path} failed: ${error}`),
        });
        return {
          result: ingested,
          credentials,
          meta: { sha256: ingested.file.sha256, size: ingested.file.size },
        };
      },
    );
    res.status(result.created ? 201 : 200).json(result.file);
  });

  router.delete(FILE_ROUTE, async (req, res) => {
    const path = parseFilePath((req.params as any)[0]);
    const { model, version } = await lookup(req);
    await ctx.audited(
      req,
      {
        eventId: 'artifact-delete',
        meta: { modelRef: model.entityRef, versionLabel: version.label, path },
      },
      async () => {
        const credentials = await ctx.authorize(
          req,
          modelHubArtifactUploadPermission,
          model.entityRef,
        );
        assertMutable(version);
        await store.removeFile({ versionId: version.id, path });
        await ctx.options.inspection?.forgetFile(version.id, path);
        return { result: undefined, credentials };
      },
    );
    res.status(204).end();
  });

  const download = async (req: Request, res: Response) => {
    const path = parseFilePath((req.params as any)[0]);
    const { model, version } = await lookup(req);
    const credentials = await ctx.authorize(
      req,
      modelHubArtifactDownloadPermission,
      model.entityRef,
    );
    // released, or one of the audiences of unapproved downloads
    await ctx.options.downloadAuthorizer(ctx, req, credentials, model, version);
    const file = await ctx.requireFile(
      await store.getFile({ versionId: version.id, path }),
      path,
    );
    const etag = `"${file.sha256}"`;
    res.setHeader('ETag', etag);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Cache-Control', 'private, no-cache');

    const ifNoneMatch = req.headers['if-none-match'];
    if (
      ifNoneMatch &&
      ifNoneMatch.split(',').some(t => t.trim() === etag || t.trim() === '*')
    ) {
      res.status(304).end();
      return;
    }
    const ifRange = req.headers['if-range'];
    const range =
      ifRange && ifRange !== etag
        ? ({ type: 'none' } as const)
        : parseRange(req.headers.range, file.size);
    if (range.type === 'unsatisfiable') {
      // 416 has no @backstage/errors type; the body stays empty
      res.setHeader('Content-Range', `bytes */${file.size}`);
      res.status(416).end();
      return;
    }
    // open the content before any status is sent, so that missing bytes
    // still answer with an error status
    const stream =
      req.method === 'HEAD' || file.size === 0
        ? undefined
        : await artifacts.get(
            file.sha256,
            range.type === 'range' ? range : undefined,
          );
    res.setHeader('X-Content-Sha256', file.sha256);
    writeFileHead(res, {
      size: file.size,
      disposition: contentDisposition(path),
      range,
    });
    // full GET responses count as downloads in the history (not HEAD,
    // 304 or ranges), in the background: recording never fails or delays
    // the download
    if (req.method === 'GET' && range.type !== 'range') {
      void recordDownloadSafely(store, ctx.options.logger, file.size);
    }
    if (!stream) {
      res.end();
      return;
    }
    try {
      await pipeline(stream, res);
    } catch (error) {
      ctx.options.logger.warn(
        `Download of ${model.entityRef} ${version.label} ${path} aborted: ${error}`,
      );
      res.destroy();
    }
  };
  router.head(FILE_ROUTE, download);
  router.get(FILE_ROUTE, download);
}
