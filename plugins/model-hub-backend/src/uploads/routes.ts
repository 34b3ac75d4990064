import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Request, Response, Router } from 'express';
import { Knex } from 'knex';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import {
  inspectBlobIntoChecks,
  VersionChecksStore,
} from '../inspection/VersionChecksStore';
import { RouteContext } from '../service/context';
import { ArtifactStore } from '../store/ArtifactStore';
import { stagingDirectory, tusDirectory, UploadsConfig } from './config';
import { DatabaseLocker } from './DatabaseLocker';
import { HashingFileStore } from './HashingFileStore';
import { S3UploadStore } from './S3UploadStore';
import { createMultipartHandler } from './multipartRoute';
import { createPackageHandler } from './packageRoute';
import { createPatchHandler } from './patch';
import { createTerminateHandler, createTusServer } from './tusServer';
import { createUploadContext, UploadDeps } from './uploadContext';
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
  /**
   * The bucket and client of the S3 artifact store, when tus uploads in
   * progress are kept there (`modelHub.uploads.tusStore: s3`).
   */
  s3?: { bucket: string; client: S3ClientConfig; partSize: number };
};

/**
 * The upload routes:
 *
 * - tus 1.0 resumable uploads at `/uploads` (creation, termination,
 *   expiration), with `@tus/server` and a hashing file store in a folder
 *   shared by the instances (or `@tus/s3-store`, `uploads.tusStore: s3`),
 *   one lock per upload in the database. Metadata
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
  if (config.tusStore === 's3' && !options.s3) {
    throw new Error(
      'modelHub.uploads.tusStore is s3 but the artifact store is not (modelHub.storage.type)',
    );
  }
  const datastore =
    config.tusStore === 's3'
      ? new S3UploadStore({
          ...options.s3!,
          expirationMs: config.expirationMs,
          sessions,
        })
      : new HashingFileStore({
          directory: tusDirectory(config),
          sessions,
          expirationMs: config.expirationMs,
          syncIntervalBytes: config.syncIntervalBytes,
          writeMode: config.writeMode,
        });
  // one lock per upload, shared by the tus server and the PATCH handler of
  // every instance (the `upload_locks` table)
  const locker = new DatabaseLocker(db, { settings: config.locks });

  /** Removes expired uploads and leftovers of interrupted imports. */
  async function cleanup(now = new Date()): Promise<{ removed: number }> {
    let removed = 0;
    for (const id of await sessions.listExpired(
      new Date(now.getTime() - config.expirationMs),
    )) {
      await datastore.discard(id).catch(() => {});
      removed += 1;
    }
    if (datastore instanceof HashingFileStore) {
      datastore.forgetAllBut(await sessions.list());
    }
    // locks left by holders that died, on uploads nobody resumed
    await locker.prune(new Date(now.getTime() - config.expirationMs));
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
      locker,
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

  return { routes, cleanup, datastore, locker, inspection };
}

/**
 * The route table of the upload routes; each protocol's handler lives in its
 * own file. tus requests other than PATCH and DELETE go to the tus server.
 */
function addUploadRoutes(
  router: Router,
  ctx: RouteContext,
  deps: UploadDeps & { locker: DatabaseLocker },
) {
  const { locker, ...rest } = deps;
  const u = createUploadContext(ctx, rest);
  const tus = createTusServer(u, locker);
  const handleTus = async (req: Request, res: Response) => {
    await tus.handle(req, res);
  };
  router.options('/uploads', handleTus);
  router.post('/uploads', handleTus);
  router.options('/uploads/:id', handleTus);
  router.head('/uploads/:id', handleTus);
  router.patch(
    '/uploads/:id',
    u.datastore instanceof HashingFileStore
      ? createPatchHandler(u, locker, u.datastore)
      : handleTus,
  );
  router.delete('/uploads/:id', createTerminateHandler(u, tus));
  // plain multipart upload of one file, for curl
  router.post(
    '/models/:namespace/:name/versions/:label/files',
    createMultipartHandler(u),
  );
  // ZIP model packages
  router.post('/models/:namespace/:name/packages', createPackageHandler(u));
}

/** @internal */
export type UploadRoutes = Awaited<ReturnType<typeof createUploadRoutes>>;
