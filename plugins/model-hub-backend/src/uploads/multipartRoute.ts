import { modelHubArtifactUploadPermission } from '@model-hub/backstage-plugin-model-hub-common';
import { Request, Response } from 'express';
import { z } from 'zod';
import { FILE_KINDS } from '../database/types';
import { InspectionCheck } from '../inspection/types';
import { principalRef } from '../service/context';
import { commitBlob } from '../service/ingest';
import {
  parseFilePath,
  parseInput,
  versionParams,
} from '../service/validation';
import { parseMultipartFile } from './multipart';
import { assertMutable, UploadContext } from './uploadContext';

/**
 * `POST /models/{namespace}/{name}/versions/{label}/files`: one file as
 * `multipart/form-data` (fields `path`, `kind`, `sha256` before the file
 * part), streamed into the store while it arrives, for curl. Answers 201
 * with the file and its checks, or 200 when the same file was there.
 *
 * @internal
 */
export function createMultipartHandler(u: UploadContext) {
  const { ctx, config } = u;
  const { store, artifacts } = ctx.options;
  return async (req: Request, res: Response) => {
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
            found = await u.inspectAndRecord(
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
  };
}
