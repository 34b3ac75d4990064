import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BackstageCredentials } from '@backstage/backend-plugin-api';
import {
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
} from '@backstage/errors';
import {
  EDITABLE_VERSION_STATES,
  modelHubArtifactUploadPermission,
  modelHubVersionCreatePermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import { ERRORS, MemoryLocker, Server } from '@tus/server';
import { Request, Response, Router } from 'express';
import { Knex } from 'knex';
import { z } from 'zod';
import { importPackage } from '../archive/importPackage';
import { FileKind, FILE_KINDS, HubModel, HubVersion } from '../database/types';
import {
  inspectBlobIntoChecks,
  VersionChecksStore,
} from '../inspection/VersionChecksStore';
import { InspectionCheck } from '../inspection/types';
import { RouteContext, principalRef } from '../service/context';
import {
  parseFilePath,
  parseInput,
  versionParams,
  modelParams,
} from '../service/validation';
import { stagingDirectory, tusDirectory, UploadsConfig } from './config';
import { ArtifactStore } from '../store/ArtifactStore';
import { commitBlob } from '../service/ingest';
import { moveIntoLocalStore } from '../store/LocalArtifactStore';
import { HashingFileStore, UPLOAD_ID_PATTERN } from './HashingFileStore';
import { parseMultipartFile } from './multipart';
import { UploadSessionsStore } from './UploadSessionsStore';

/** What the upload routes need besides the route context. @internal */
export type UploadRoutesOptions = {
  db: Knex;
  config: UploadsConfig;
  /**
   * The folder of the local artifact store, when the store is local: a
   * finished upload on the same filesystem is renamed into it instead of
   * copied.
   */
  localStorePath?: string;
};

/**
 * Fails early for versions whose files cannot change (as for PUT
 * …/files/{path}); the store checks again when the file is committed.
 */
function assertMutable(version: { label: string; state: string }) {
  if (!EDITABLE_VERSION_STATES.includes(version.state as HubVersion['state'])) {
    throw new ConflictError(
      `Version ${version.label} is ${version.state}; files can only change in a draft version or one with changes requested`,
    );
  }
}

const STATUS: Record<string, number> = {
  InputError: 400,
  AuthenticationError: 401,
  NotAllowedError: 403,
  NotFoundError: 404,
  ConflictError: 409,
};

/** An error answered with a status and body, the shape tus hooks throw. */
class TusHttpError extends Error {
  constructor(readonly status_code: number, readonly body: string) {
    super(body);
    this.name = 'TusHttpError';
  }
}

/** Turns an error into what tus hooks throw: `{ status_code, body }`. */
function tusError(error: unknown): never {
  const e = error as Error & { status_code?: number; body?: string };
  if (typeof e?.status_code === 'number') {
    throw e;
  }
  const status = STATUS[e?.name] ?? 500;
  throw new TusHttpError(
    status,
    JSON.stringify({
      error: {
        name: status === 500 ? 'Error' : e.name,
        message: status === 500 ? 'Internal error' : e.message,
      },
      response: { statusCode: status },
    }),
  );
}

function nodeRequest(req: globalThis.Request): Request {
  const node = (req as any).runtime?.node?.req as IncomingMessage | undefined;
  if (!node) {
    throw new Error('tus request without a Node.js request');
  }
  return node as Request;
}

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
 * The upload routes:
 *
 * - tus 1.0 resumable uploads at `/uploads` (creation, termination,
 *   expiration), with `@tus/server` and a hashing file store. Metadata
 *   `model` (entity ref or `namespace/name`), `version`, `path` (or
 *   `filename`), optional `kind` and `sha256` bind the upload to a file of a
 *   version; the caller must hold `model-hub.artifact.upload` on the model
 *   at creation and on every HEAD, PATCH and DELETE, and be its creator.
 * - `POST /models/{namespace}/{name}/versions/{label}/files`: one file as
 *   `multipart/form-data`, streamed into the store (for curl).
 * - `POST /models/{namespace}/{name}/packages`: a ZIP model package,
 *   imported as a new draft version, all or nothing.
 *
 * The routes read request bodies as streams; none is behind a JSON parser.
 *
 * @internal
 */
export async function createUploadRoutes(options: UploadRoutesOptions) {
  const { config, db } = options;
  const sessions = new UploadSessionsStore(db);
  const checks = new VersionChecksStore(db);
  await fs.mkdir(tusDirectory(config), { recursive: true });
  await fs.mkdir(stagingDirectory(config), { recursive: true });
  const datastore = new HashingFileStore({
    directory: tusDirectory(config),
    sessions,
    expirationMs: config.expirationMs,
    syncIntervalBytes: config.syncIntervalBytes,
    writeMode: config.writeMode,
  });

  /** Removes expired uploads and leftovers of interrupted imports. */
  async function cleanup(now = new Date()): Promise<{ removed: number }> {
    let removed = 0;
    for (const id of await sessions.listExpired(
      new Date(now.getTime() - config.expirationMs),
    )) {
      await datastore.discard(id).catch(() => {});
      removed += 1;
    }
    const staging = stagingDirectory(config);
    for (const name of await fs.readdir(staging)) {
      const s = await fs.stat(join(staging, name)).catch(() => undefined);
      if (s && s.mtime.getTime() < now.getTime() - config.expirationMs) {
        await fs.rm(join(staging, name), { recursive: true, force: true });
        removed += 1;
      }
    }
    return { removed };
  }

  const routes = (router: Router, ctx: RouteContext) =>
    addUploadRoutes(router, ctx, {
      db,
      config,
      sessions,
      checks,
      datastore,
      localStorePath: options.localStorePath,
    });
  /**
   * For the other ways files enter or leave a version (`PUT …/files/{path}`,
   * Hugging Face downloads, `DELETE …/files/{path}`): inspects a stored file
   * into checks of its version, or forgets its checks.
   */
  const inspection = {
    inspectStoredFile: (
      versionId: string,
      file: { path: string; sha256: string; size: number },
      artifacts: ArtifactStore,
    ) =>
      inspectBlobIntoChecks({
        checks,
        artifacts,
        limits: config.inspection,
        versionId,
        path: file.path,
        sha256: file.sha256,
        size: file.size,
      }),
    forgetFile: (versionId: string, path: string) =>
      checks.forgetFile(versionId, path),
  };

  return { routes, cleanup, datastore, inspection };
}

function addUploadRoutes(
  router: Router,
  ctx: RouteContext,
  deps: {
    db: Knex;
    config: UploadsConfig;
    sessions: UploadSessionsStore;
    checks: VersionChecksStore;
    datastore: HashingFileStore;
    localStorePath?: string;
  },
) {
  const { store, artifacts, logger } = ctx.options;
  const { config, db, sessions, checks, datastore, localStorePath } = deps;

  async function versionById(versionId: string) {
    const row = await db('model_versions')
      .where({ id: versionId })
      .first('id', 'label', 'state');
    if (!row) {
      throw new NotFoundError('The version of this upload no longer exists');
    }
    return row as { id: string; label: string; state: string };
  }

  async function inspectAndRecord(
    versionId: string,
    path: string,
    file: { sha256: string; size: number },
  ): Promise<InspectionCheck[]> {
    try {
      return await inspectBlobIntoChecks({
        checks,
        artifacts,
        limits: config.inspection,
        versionId,
        path,
        sha256: file.sha256,
        size: file.size,
      });
    } catch (error) {
      logger.warn(`Inspection of ${path} failed: ${error}`);
      return [];
    }
  }

  /** Authorizes a request on an existing upload, by its stored binding. */
  async function authorizeUpload(req: Request, id: string) {
    if (!UPLOAD_ID_PATTERN.test(id)) {
      throw new NotFoundError('Upload not found');
    }
    const session = await sessions.getSession(id);
    if (!session) {
      throw new NotFoundError('Upload not found');
    }
    const credentials = await ctx.authorize(
      req,
      modelHubArtifactUploadPermission,
      session.modelRef,
    );
    if (principalRef(credentials) !== session.createdBy) {
      throw new NotAllowedError('The upload belongs to someone else');
    }
    return { session, credentials };
  }

  /**
   * Turns a complete upload into a file of its version: the digest computed
   * while the bytes arrived, the bytes into the store (renamed into a local
   * store, else streamed), the rows, the inspection checks. Any failure
   * removes the upload: nothing is half-written, the client starts again.
   */
  async function finishUpload(
    node: Request,
    upload: {
      id: string;
      size?: number;
      metadata?: Record<string, string | null>;
    },
  ): Promise<Record<string, string>> {
    try {
      const session = await sessions.getSession(upload.id);
      if (!session) {
        throw new NotFoundError('Upload not found');
      }
      const size = upload.size!;
      let found: InspectionCheck[] = [];
      const result = await ctx.audited(
        node,
        {
          eventId: 'artifact-upload',
          meta: {
            modelRef: session.modelRef,
            path: session.path,
            uploadId: upload.id,
            size,
          },
        },
        async () => {
          const credentials = await ctx.authorize(
            node,
            modelHubArtifactUploadPermission,
            session.modelRef,
          );
          const version = await versionById(session.versionId);
          assertMutable(version);
          const sha256 = await datastore.digest(upload.id, size);
          const expected = upload.metadata?.sha256;
          if (expected && expected !== sha256) {
            throw new InputError(
              `Checksum mismatch: expected sha256 ${expected}, got ${sha256}`,
            );
          }
          const kind = upload.metadata?.kind as FileKind | undefined;
          const file = datastore.filePath(upload.id);
          const blob =
            (localStorePath &&
              (await moveIntoLocalStore({
                storeRoot: localStorePath,
                file,
                sha256,
                size,
              }))) ||
            (await artifacts.put(
              createReadStream(file, { highWaterMark: 1024 * 1024 }),
              { expectedSha256: sha256, expectedSize: size },
            ));
          const ingested = await commitBlob({
            store,
            artifacts,
            versionId: session.versionId,
            path: session.path,
            kind,
            blob,
            createdBy: principalRef(credentials),
            inspect: async (versionId, committed) => {
              found = await inspectAndRecord(
                versionId,
                committed.path,
                committed,
              );
            },
          });
          return {
            result: ingested,
            credentials,
            meta: { sha256, versionLabel: version.label },
          };
        },
      );
      await datastore.discard(upload.id);
      return {
        'X-Content-Sha256': result.file.sha256,
        'X-Model-Hub-Checks': found
          .map(c => `${c.name}=${c.status}`)
          .join(', ')
          .slice(0, 4000),
      };
    } catch (error) {
      await datastore.discard(upload.id).catch(() => {});
      throw error;
    }
  }

  const locker = new MemoryLocker();
  const tus = new Server({
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
        await authorizeUpload(node, id);
      } catch (error) {
        tusError(error);
      }
    },
    onUploadCreate: async (req, upload) => {
      try {
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
        const refMatch = /^(?:model:)?(?:([^/:]+)\/)?([^/:]+)$/i.exec(
          meta.model,
        );
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
            const existing = await store.getFile({
              versionId: version.id,
              path,
            });
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
        return { metadata: upload.metadata };
      } catch (error) {
        return tusError(error);
      }
    },
    onUploadFinish: async (req, upload) => {
      try {
        return { headers: await finishUpload(nodeRequest(req), upload) };
      } catch (error) {
        return tusError(error);
      }
    },
  });
  /** Answers an error the way the tus server does. */
  function sendTusError(res: Response, error: unknown) {
    let status = 500;
    let body = 'Internal error';
    try {
      tusError(error);
    } catch (mapped) {
      status = (mapped as { status_code: number }).status_code;
      body = (mapped as { body: string }).body;
    }
    if (!res.headersSent) {
      res
        .status(status)
        .set('Tus-Resumable', '1.0.0')
        .type(body.startsWith('{') ? 'application/json' : 'text/plain')
        .send(body);
    }
  }

  /**
   * tus PATCH, served on the Node request directly. @tus/server converts
   * requests to web streams (srvx) and pipes them through three more
   * streams, which halves throughput on small machines; this handler keeps
   * its protocol rules (Tus-Resumable, Upload-Offset match or 409,
   * offset+octet-stream, size limits, expiration, the shared per-upload
   * lock, a newer request taking over from a stale one) and writes through
   * the same hashing file store.
   */
  async function patchUpload(req: Request, res: Response) {
    const id = req.params.id;
    try {
      if (req.headers['tus-resumable'] !== '1.0.0') {
        throw new TusHttpError(412, 'Tus-Resumable Required\n');
      }
      await authorizeUpload(req, id);
      const offsetHeader = String(req.headers['upload-offset'] ?? '');
      if (!/^\d{1,16}$/.test(offsetHeader)) {
        throw ERRORS.MISSING_OFFSET;
      }
      if (req.headers['content-type'] !== 'application/offset+octet-stream') {
        throw ERRORS.INVALID_CONTENT_TYPE;
      }
      const offset = Number(offsetHeader);
      const lock = locker.newLock(id);
      await lock.lock(new AbortController().signal, () => {
        // a newer request for this upload (the client reconnected): end
        // this one, keeping the bytes it wrote
        req.destroy();
      });
      let upload;
      let newOffset: number;
      try {
        upload = await datastore.getUpload(id);
        const created = upload.creation_date
          ? new Date(upload.creation_date).getTime()
          : Date.now();
        if (Date.now() > created + config.expirationMs) {
          throw ERRORS.FILE_NO_LONGER_EXISTS;
        }
        if (upload.offset !== offset) {
          throw ERRORS.INVALID_OFFSET;
        }
        const size = upload.size ?? 0;
        const length = req.headers['content-length'];
        if (length !== undefined && offset + Number(length) > size) {
          throw ERRORS.ERR_SIZE_EXCEEDED;
        }
        newOffset = await datastore.writeFrom(req, id, offset, size - offset);
      } finally {
        await lock.unlock();
      }
      const headers: Record<string, string> = {
        'Tus-Resumable': '1.0.0',
        'Upload-Offset': String(newOffset),
      };
      if (newOffset === upload.size) {
        Object.assign(headers, await finishUpload(req, upload));
      } else if (upload.creation_date) {
        headers['Upload-Expires'] = new Date(
          new Date(upload.creation_date).getTime() + config.expirationMs,
        ).toUTCString();
      }
      res.status(204).set(headers).end();
    } catch (error) {
      sendTusError(res, error);
    }
  }

  const handleTus = async (req: Request, res: any) => {
    await tus.handle(req, res);
  };
  router.options('/uploads', handleTus);
  router.post('/uploads', handleTus);
  router.options('/uploads/:id', handleTus);
  router.head('/uploads/:id', handleTus);
  router.patch('/uploads/:id', async (req, res) => {
    await patchUpload(req, res);
  });
  router.delete('/uploads/:id', async (req, res) => {
    // termination of an unfinished upload, audited
    const id = req.params.id;
    let session;
    try {
      session = (await authorizeUpload(req, id)).session;
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
        const { credentials } = await authorizeUpload(req, id);
        await tus.handle(req, res);
        return { result: undefined, credentials };
      },
    );
  });

  // plain multipart upload of one file, for curl
  router.post(
    '/models/:namespace/:name/versions/:label/files',
    async (req, res) => {
      const params = parseInput(versionParams, req.params, 'version reference');
      const model = await ctx.requireModel(params);
      const version = await ctx.requireVersion(model, params.label);
      const credentials = await ctx.authorize(
        req,
        modelHubArtifactUploadPermission,
        model.entityRef,
      );
      assertMutable(version);
      // the bytes go to the store while they arrive; the file row only once
      // the whole body turned out valid
      const staged = await parseMultipartFile(
        req,
        { maxFileBytes: config.maxFileBytes },
        async ({ fields, filename, stream }) => {
          const path = parseFilePath(fields.path ?? filename);
          const kind = fields.kind
            ? parseInput(z.enum(FILE_KINDS), fields.kind, 'kind')
            : undefined;
          const sha256 = fields.sha256
            ? parseInput(
                z
                  .string()
                  .regex(
                    /^[a-f0-9]{64}$/,
                    'must be 64 lower-case hex characters',
                  ),
                fields.sha256,
                'sha256',
              )
            : undefined;
          const blob = await artifacts.put(stream, {
            expectedSha256: sha256,
            maxSize: config.maxFileBytes,
          });
          return { path, kind, blob };
        },
        async ({ blob }) => {
          if (blob.created && !(await store.getBlob({ sha256: blob.sha256 }))) {
            await artifacts.delete(blob.sha256);
          }
        },
      );
      let found: InspectionCheck[] = [];
      const result = await ctx.audited(
        req,
        {
          eventId: 'artifact-upload',
          meta: {
            modelRef: model.entityRef,
            versionLabel: version.label,
            path: staged.path,
          },
        },
        async () => {
          const ingested = await commitBlob({
            store,
            artifacts,
            versionId: version.id,
            path: staged.path,
            kind: staged.kind,
            blob: staged.blob,
            createdBy: principalRef(credentials),
            inspect: async (versionId, committed) => {
              found = await inspectAndRecord(
                versionId,
                committed.path,
                committed,
              );
            },
          });
          return {
            result: { ...ingested, path: staged.path },
            credentials,
            meta: { sha256: ingested.file.sha256, size: ingested.file.size },
          };
        },
      );
      res
        .status(result.created ? 201 : 200)
        .json({ file: result.file, checks: found });
    },
  );

  // ZIP model packages
  router.post('/models/:namespace/:name/packages', async (req, res) => {
    const params = parseInput(modelParams, req.params, 'model reference');
    const query = parseInput(
      z.strictObject({ label: versionParams.shape.label.optional() }),
      req.query,
      'package query',
    );
    const model: HubModel = await ctx.requireModel(params);
    const result = await ctx.audited(
      req,
      {
        eventId: 'package-import',
        meta: {
          modelRef: model.entityRef,
          ...(query.label ? { versionLabel: query.label } : {}),
        },
      },
      async () => {
        await ctx.authorize(
          req,
          modelHubVersionCreatePermission,
          model.entityRef,
        );
        const credentials: BackstageCredentials = await ctx.authorize(
          req,
          modelHubArtifactUploadPermission,
          model.entityRef,
        );
        const imported = await importPackage({
          db,
          store,
          artifacts,
          model,
          label: query.label,
          content: req as Readable,
          createdBy: principalRef(credentials),
          stagingRoot: stagingDirectory(config),
          archive: config.archive,
          inspection: config.inspection,
        });
        return {
          result: imported,
          credentials,
          meta: {
            versionLabel: imported.version.label,
            files: imported.files.length,
            manifestSha256: imported.manifest.sha256,
          },
        };
      },
    );
    res.status(201).json(result);
  });
}

/** @internal */
export type UploadRoutes = Awaited<ReturnType<typeof createUploadRoutes>>;
