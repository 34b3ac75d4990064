import { createReadStream } from 'node:fs';
import { InputError, NotFoundError } from '@backstage/errors';
import { modelHubArtifactUploadPermission } from '@model-hub/backstage-plugin-model-hub-common';
import { Request } from 'express';
import { FileKind } from '../database/types';
import { InspectionCheck } from '../inspection/types';
import { principalRef } from '../service/context';
import { commitBlob } from '../service/ingest';
import { PutBlobResult } from '../store/ArtifactStore';
import { moveIntoLocalStore } from '../store/LocalArtifactStore';
import { S3ArtifactStore } from '../store/S3ArtifactStore';
import { S3UploadStore } from './S3UploadStore';
import { assertMutable, UploadContext } from './uploadContext';

/**
 * Turns a complete tus upload into a file of its version: the digest
 * (computed while the bytes arrived, or read back from S3), the bytes into
 * the store (renamed into a local store, else streamed; copied within S3),
 * the rows, the inspection checks. Call it holding the upload's lock. Any failure
 * removes the upload: nothing is half-written, the client starts again.
 *
 * Returns the headers of the final response: `X-Content-Sha256` and
 * `X-Model-Hub-Checks`.
 *
 * @internal
 */
export async function finishUpload(
  u: UploadContext,
  node: Request,
  upload: {
    id: string;
    size?: number;
    metadata?: Record<string, string | null>;
  },
): Promise<Record<string, string>> {
  const { ctx, sessions, datastore } = u;
  const { store, artifacts } = ctx.options;
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
        const version = await u.versionById(session.versionId);
        assertMutable(version);
        const sha256 = await datastore.digest(upload.id, size);
        const expected = upload.metadata?.sha256;
        if (expected && expected !== sha256) {
          throw new InputError(
            `Checksum mismatch: expected sha256 ${expected}, got ${sha256}`,
          );
        }
        const kind = upload.metadata?.kind as FileKind | undefined;
        const blob = await placeBlob(u, upload.id, sha256, size);
        const ingested = await commitBlob({
          store,
          artifacts,
          versionId: session.versionId,
          path: session.path,
          kind,
          blob,
          createdBy: principalRef(credentials),
          inspect: async (versionId, committed) => {
            found = await u.inspectAndRecord(
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

/**
 * The complete upload's bytes into the artifact store as blob `sha256`:
 * renamed into a local store on the same filesystem, else streamed into
 * the store; an upload kept in S3 is copied to its content address there.
 */
async function placeBlob(
  u: UploadContext,
  id: string,
  sha256: string,
  size: number,
): Promise<PutBlobResult> {
  const { datastore, localStorePath } = u;
  const { artifacts } = u.ctx.options;
  if (datastore instanceof S3UploadStore) {
    if (!(artifacts instanceof S3ArtifactStore)) {
      throw new Error('tus uploads kept in S3 need the S3 artifact store');
    }
    return artifacts.adoptObject({ key: id, sha256, size });
  }
  const file = datastore.filePath(id);
  return (
    (localStorePath &&
      (await moveIntoLocalStore({
        storeRoot: localStorePath,
        file,
        sha256,
        size,
      }))) ||
    (await artifacts.put(
      createReadStream(file, { highWaterMark: 1024 * 1024 }),
      {
        expectedSha256: sha256,
        expectedSize: size,
      },
    ))
  );
}
