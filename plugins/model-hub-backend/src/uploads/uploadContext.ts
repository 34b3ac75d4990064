import {
  NotAllowedError,
  NotFoundError,
  ConflictError,
} from '@backstage/errors';
import {
  EDITABLE_VERSION_STATES,
  modelHubArtifactUploadPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import { Request } from 'express';
import { Knex } from 'knex';
import { HubVersion } from '../database/types';
import {
  inspectBlobIntoChecks,
  VersionChecksStore,
} from '../inspection/VersionChecksStore';
import { InspectionCheck } from '../inspection/types';
import { RouteContext, principalRef } from '../service/context';
import { UploadsConfig } from './config';
import { HashingFileStore, UPLOAD_ID_PATTERN } from './HashingFileStore';
import { S3UploadStore } from './S3UploadStore';
import { UploadSessionsStore } from './UploadSessionsStore';

/** What the upload routes are built from, besides the route context. @internal */
export type UploadDeps = {
  db: Knex;
  config: UploadsConfig;
  sessions: UploadSessionsStore;
  checks: VersionChecksStore;
  /** Uploads in progress: a shared folder, or S3 (`uploads.tusStore`). */
  datastore: HashingFileStore | S3UploadStore;
  /**
   * The folder of the local artifact store, when the store is local: a
   * finished upload on the same filesystem is renamed into it instead of
   * copied.
   */
  localStorePath?: string;
};

/** What the handlers of every upload protocol share. @internal */
export type UploadContext = UploadDeps & {
  ctx: RouteContext;
  /** The version an upload is bound to; 404 when it is gone. */
  versionById(
    versionId: string,
  ): Promise<{ id: string; label: string; state: string }>;
  /** Inspects a committed file into checks; a failure logs and finds none. */
  inspectAndRecord(
    versionId: string,
    path: string,
    file: { sha256: string; size: number },
  ): Promise<InspectionCheck[]>;
  /** Authorizes a request on an existing upload, by its stored binding. */
  authorizeUpload(req: Request, id: string): ReturnType<typeof authorizeUpload>;
};

/**
 * Fails early for versions whose files cannot change (as for PUT
 * …/files/{path}); the store checks again when the file is committed.
 *
 * @internal
 */
export function assertMutable(version: { label: string; state: string }) {
  if (!EDITABLE_VERSION_STATES.includes(version.state as HubVersion['state'])) {
    throw new ConflictError(
      `Version ${version.label} is ${version.state}; files can only change in a draft version or one with changes requested`,
    );
  }
}

async function authorizeUpload(
  ctx: RouteContext,
  sessions: UploadSessionsStore,
  req: Request,
  id: string,
) {
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

/** @internal */
export function createUploadContext(
  ctx: RouteContext,
  deps: UploadDeps,
): UploadContext {
  const { artifacts, logger } = ctx.options;
  const { config, db, sessions, checks } = deps;
  return {
    ...deps,
    ctx,
    async versionById(versionId) {
      // a read; model_versions is written by database/VersionsStore
      const row = await db('model_versions')
        .where({ id: versionId })
        .first('id', 'label', 'state');
      if (!row) {
        throw new NotFoundError('The version of this upload no longer exists');
      }
      return row as { id: string; label: string; state: string };
    },
    async inspectAndRecord(versionId, path, file) {
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
    },
    authorizeUpload: (req, id) => authorizeUpload(ctx, sessions, req, id),
  };
}
