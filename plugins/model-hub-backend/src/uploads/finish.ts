import { createReadStream } from 'node:fs';
import { InputError, NotFoundError } from '@backstage/errors';
import { modelHubArtifactUploadPermission } from '@model-hub/backstage-plugin-model-hub-common';
import { Request } from 'express';
import { FileKind } from '../database/types';
import { InspectionCheck } from '../inspection/types';
import { principalRef } from '../service/context';
import { commitBlob } from '../service/ingest';
import { moveIntoLocalStore } from '../store/LocalArtifactStore';
import { assertMutable, UploadContext } from './uploadContext';

/**
 * Turns a complete tus upload into a file of its version: the digest
 * computed while the bytes arrived, the bytes into the store (renamed into a
 * local store, else streamed), the rows, the inspection checks. Any failure
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
  const { ctx, sessions, datastore, localStorePath } = u;
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
