import { Readable } from 'node:stream';
import { BackstageCredentials } from '@backstage/backend-plugin-api';
import {
  modelHubArtifactUploadPermission,
  modelHubVersionCreatePermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import { Request, Response } from 'express';
import { z } from 'zod';
import { importPackage } from '../archive/importPackage';
import { HubModel } from '../database/types';
import { principalRef } from '../service/context';
import { modelParams, parseInput, versionParams } from '../service/validation';
import { stagingDirectory } from './config';
import { UploadContext } from './uploadContext';

/**
 * `POST /models/{namespace}/{name}/packages[?label=…]`: a ZIP model package,
 * imported as a new draft version, all or nothing. Needs
 * `model-hub.version.create` and `model-hub.artifact.upload` on the model;
 * answers 201 with the version, its files and the manifest.
 *
 * @internal
 */
export function createPackageHandler(u: UploadContext) {
  const { ctx, config, db } = u;
  const { store, artifacts } = ctx.options;
  return async (req: Request, res: Response) => {
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
  };
}
