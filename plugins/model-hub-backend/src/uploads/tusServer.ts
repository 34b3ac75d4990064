import { randomBytes } from 'node:crypto';
import { ConflictError, InputError } from '@backstage/errors';
import { modelHubArtifactUploadPermission } from '@model-hub/backstage-plugin-model-hub-common';
import { Locker, Server } from '@tus/server';
import { Request, Response } from 'express';
import { z } from 'zod';
import { FILE_KINDS } from '../database/types';
import { principalRef } from '../service/context';
import {
  modelParams,
  parseFilePath,
  parseInput,
  versionParams,
} from '../service/validation';
import { finishUpload } from './finish';
import { nodeRequest, tusError } from './tusErrors';
import { assertMutable, UploadContext } from './uploadContext';

const tusMetadata = z.object({
  model: z.string().min(1).max(255),
  version: versionParams.shape.label,
  path: z.string().min(1).max(1024).optional(),
  filename: z.string().min(1).max(1024).optional(),
  kind: z.enum(FILE_KINDS).optional(),
  sha256: z
    .string()
    .regex(/^[a-f0-9]{64}$/, 'must be 64 lower-case hex characters')
    .optional(),
});

/**
 * Checks a creation request's metadata and binds the new upload to a file of
 * a version, after authorizing the caller on the model.
 */
async function createUpload(
  u: UploadContext,
  req: globalThis.Request,
  upload: {
    id: string;
    size?: number;
    sizeIsDeferred?: boolean;
    metadata?: Record<string, string | null>;
  },
) {
  const { ctx, config, sessions } = u;
  const { store } = ctx.options;
  const node = nodeRequest(req);
  const meta = parseInput(
    tusMetadata,
    upload.metadata ?? {},
    'upload metadata',
  );
  if (upload.sizeIsDeferred) {
    throw new InputError(
      'Upload-Length is required (deferred length is not supported)',
    );
  }
  const path = parseFilePath(meta.path ?? meta.filename);
  const refMatch = /^(?:model:)?(?:([^/:]+)\/)?([^/:]+)$/i.exec(meta.model);
  if (!refMatch) {
    throw new InputError(`Invalid model '${meta.model}'`);
  }
  const params = parseInput(
    modelParams,
    { namespace: refMatch[1] ?? 'default', name: refMatch[2] },
    'model reference',
  );
  const model = await ctx.requireModel(params);
  const version = await ctx.requireVersion(model, meta.version);
  await ctx.audited(
    node,
    {
      eventId: 'upload-create',
      meta: {
        modelRef: model.entityRef,
        versionLabel: version.label,
        path,
        uploadId: upload.id,
        size: upload.size ?? null,
      },
    },
    async () => {
      const credentials = await ctx.authorize(
        node,
        modelHubArtifactUploadPermission,
        model.entityRef,
      );
      assertMutable(version);
      const existing = await store.getFile({ versionId: version.id, path });
      if (existing) {
        throw new ConflictError(
          `File ${path} already exists in version ${version.label}; delete it first`,
        );
      }
      const createdBy = principalRef(credentials);
      if (
        (await sessions.countActive(createdBy)) >=
        config.maxActiveUploadsPerUser
      ) {
        throw new ConflictError(
          `Too many unfinished uploads (${config.maxActiveUploadsPerUser}); finish or delete some first`,
        );
      }
      sessions.bind(upload.id, {
        modelId: model.id,
        modelRef: model.entityRef,
        versionId: version.id,
        path,
        createdBy,
      });
      return { result: undefined, credentials };
    },
  );
}

/**
 * The tus 1.0 server behind `/uploads` (creation, HEAD, termination,
 * expiration) on the hashing file store. Metadata `model` (entity ref or
 * `namespace/name`), `version`, `path` (or `filename`), optional `kind` and
 * `sha256` bind the upload to a file of a version; every request on an
 * existing upload is authorized by that binding. With uploads in a shared
 * folder PATCH is served by `createPatchHandler` with the same `locker`
 * (shared by all instances); with uploads in S3, by the tus server.
 *
 * @internal
 */
export function createTusServer(u: UploadContext, locker: Locker) {
  const { config, datastore, ctx } = u;
  return new Server({
    path: '/uploads',
    datastore,
    locker,
    maxSize: config.maxFileBytes,
    // the Backstage root handles CORS
    allowedOrigins: () => false,
    // 16 random bytes as hex; checked against UPLOAD_ID_PATTERN on every request
    namingFunction: () => randomBytes(16).toString('hex'),
    generateUrl: (req, { proto, host, id }) =>
      `${proto}://${host}${nodeRequest(req).baseUrl}/uploads/${id}`,
    onIncomingRequest: async (req, id) => {
      try {
        const node = nodeRequest(req);
        if (req.method === 'POST') {
          await ctx.credentials(node);
          return;
        }
        await u.authorizeUpload(node, id);
      } catch (error) {
        tusError(error);
      }
    },
    onUploadCreate: async (req, upload) => {
      try {
        await createUpload(u, req, upload);
        return { metadata: upload.metadata };
      } catch (error) {
        return tusError(error);
      }
    },
    onUploadFinish: async (req, upload) => {
      // the tus server calls this after it let go of the lock: finish
      // holding it again, so that no other request, on any instance,
      // finishes the upload too (a second one finds no session: 404)
      const lock = locker.newLock(upload.id);
      try {
        await lock.lock(new AbortController().signal, () => {});
        return { headers: await finishUpload(u, nodeRequest(req), upload) };
      } catch (error) {
        return tusError(error);
      } finally {
        await lock.unlock();
      }
    },
  });
}

/**
 * `DELETE /uploads/{id}`: termination of an unfinished upload, audited; the
 * tus server removes it and answers errors the tus way.
 *
 * @internal
 */
export function createTerminateHandler(u: UploadContext, tus: Server) {
  const { ctx } = u;
  return async (req: Request, res: Response) => {
    const id = req.params.id;
    let session;
    try {
      session = (await u.authorizeUpload(req, id)).session;
    } catch (error) {
      await tus.handle(req, res); // answers the error the tus way
      return;
    }
    await ctx.audited(
      req,
      {
        eventId: 'upload-terminate',
        meta: { modelRef: session.modelRef, path: session.path, uploadId: id },
      },
      async () => {
        const { credentials } = await u.authorizeUpload(req, id);
        await tus.handle(req, res);
        return { result: undefined, credentials };
      },
    );
  };
}
