import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import {
  InputError,
  NotAllowedError,
  NotFoundError,
  ServiceUnavailableError,
} from '@backstage/errors';
import {
  modelHubAdminPermission,
  modelHubArtifactDownloadPermission,
  modelHubExportPermission,
  modelHubImportPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import { Knex } from 'knex';
import { z } from 'zod';
import { modelEntityRef } from '../database/DatabaseModelHubStore';
import type { ApprovalsService } from '../approvals/ApprovalsService';
import type { ModelHubFeature, RouteExtension } from '../service/feature';
import { principalRef } from '../service/context';
import { BODY_LIMITS, jsonBody } from '../service/jsonBody';
import { modelParams, parseInput, versionParams } from '../service/validation';
import { TransferConfig } from './config';
import {
  assertExportable,
  bundleSize,
  collectEvidence,
  ExportItem,
  prepareBundle,
  writeBundle,
} from './exportBundle';
import { getImportEvidence, importBundle } from './importBundle';

const json = jsonBody(BODY_LIMITS.list);

const exportBody = z.strictObject({
  versions: z
    .array(
      z.strictObject({
        /** `namespace/name`, `name` (default namespace) or `model:namespace/name`. */
        model: z.string().min(1).max(255),
        /** The label; the model's active version when left out. */
        version: versionParams.shape.label.optional(),
      }),
    )
    .min(1)
    .max(100),
});

/** The routes of the transfer, for the OpenAPI document and its tests. @internal */
export const TRANSFER_ROUTES = [
  ['get', '/transfer/public-key'],
  ['post', '/transfer/export'],
  ['post', '/transfer/import'],
  ['get', '/models/:namespace/:name/versions/:label/import-evidence'],
] as const;

/** What a refused import still reads of the request before closing it. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

/**
 * Discards the rest of a refused bundle so that the client, still sending,
 * reads the 400; a client that sends more than {@link MAX_DRAIN_BYTES}
 * after the refusal has its connection closed.
 */
function drainRefused(req: Readable) {
  let drained = 0;
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > MAX_DRAIN_BYTES) {
      req.destroy();
    }
  });
  req.resume();
}

/**
 * The transfer routes of a router without the transfer set up (tests of
 * the core router): 503.
 *
 * @internal
 */
export const addDisabledTransferRoutes: RouteExtension = router => {
  for (const [method, path] of TRANSFER_ROUTES) {
    router[method](path, async () => {
      throw new ServiceUnavailableError('Transfers are not set up');
    });
  }
};

function parseModelRef(raw: string) {
  const ref = raw.replace(/^model:/i, '');
  // the whole rest after the first slash is the name: `a/b/c` is refused,
  // never read as `a/b`
  const slash = ref.indexOf('/');
  const [namespace, name] =
    slash >= 0 ? [ref.slice(0, slash), ref.slice(slash + 1)] : ['default', ref];
  return parseInput(
    modelParams,
    { namespace, name },
    `model reference '${raw}'`,
  );
}

/**
 * Air-gapped transfers: a signed OCI-layout bundle of approved versions
 * with their approval evidence (`POST /transfer/export`), its import on
 * another portal (`POST /transfer/import`), this portal's public key
 * (`GET /transfer/public-key`, unauthenticated) and the evidence an
 * imported version came with.
 *
 * @internal
 */
export function createTransferRoutes(options: {
  config: TransferConfig;
  knex: Knex;
  /** The approvals workflow: exports carry its evidence; without it they answer 503. */
  approvals?: ApprovalsService;
}): ModelHubFeature {
  const { config, knex } = options;
  const routes: RouteExtension = (router, ctx) => {
    router.get('/transfer/public-key', async (_req, res) => {
      if (!config.signingKey) {
        throw new NotFoundError(
          'This portal has no signing key (modelHub.transfer.signingKey)',
        );
      }
      res.json({
        portal: config.portalName,
        algorithm: 'Ed25519',
        keyId: config.signingKey.keyId,
        publicKey: config.signingKey.publicKey
          .export({ type: 'spki', format: 'pem' })
          .toString(),
      });
    });

    router.post('/transfer/export', json, async (req, res) => {
      const credentials = await ctx.authorize(req, modelHubExportPermission);
      const body = parseInput(exportBody, req.body, 'export request');
      const approvals = options.approvals;
      if (!config.signingKey || !approvals) {
        throw new ServiceUnavailableError(
          'Exports need a signing key (modelHub.transfer.signingKey) and the approvals workflow',
        );
      }
      const now = new Date();
      const actor = principalRef(credentials);
      const items: ExportItem[] = [];
      for (const entry of body.versions) {
        const params = parseModelRef(entry.model);
        const ref = modelEntityRef(params.namespace, params.name);
        // 404 for a model the caller may not read, 403 without downloads
        await ctx.authorize(req, modelHubArtifactDownloadPermission, ref);
        const model = await ctx.requireModel(params);
        const active = await approvals.getActiveVersion(model);
        let label = entry.version;
        if (!label) {
          if (!active) {
            throw new InputError(
              `Model ${ref} has no active version; name the version to export`,
            );
          }
          label = active.label;
        }
        const version = await ctx.requireVersion(model, label);
        assertExportable(model, version);
        items.push({
          model,
          version,
          files: await ctx.store.listFiles({ versionId: version.id }),
          evidence: await collectEvidence({
            approvals,
            model,
            version,
            portal: config.portalName,
            exportedBy: actor,
            now,
          }),
          active: active?.versionId === version.id,
        });
      }
      await ctx.audited(
        req,
        {
          eventId: 'model-hub-export',
          severityLevel: 'medium',
          meta: {
            versions: items.map(i => `${i.model.entityRef}@${i.version.label}`),
            ...(items.length === 1
              ? {
                  modelRef: items[0].model.entityRef,
                  versionLabel: items[0].version.label,
                }
              : {}),
          },
        },
        async () => {
          const prepared = prepareBundle({
            items,
            portal: config.portalName,
            signingKey: config.signingKey!,
            now,
          });
          const name =
            items.length === 1
              ? `${items[0].model.name}-${items[0].version.label}`
              : `model-hub-export-${items.length}-versions`;
          res.status(200);
          res.setHeader('Content-Type', 'application/x-tar');
          // not compressed on the way (the files are mostly incompressible
          // weights, and a compressed stream loses its Content-Length)
          res.setHeader('Cache-Control', 'no-store, no-transform');
          res.setHeader('Content-Length', String(bundleSize(prepared)));
          res.setHeader(
            'Content-Disposition',
            `attachment; filename="${name.replace(/[^\w.+-]/g, '_')}.oci.tar"`,
          );
          await pipeline(
            Readable.from(
              writeBundle({ prepared, artifacts: ctx.options.artifacts }),
            ),
            res,
          );
          return {
            result: undefined,
            credentials,
            meta: { bytes: bundleSize(prepared), portal: config.portalName },
          };
        },
      );
    });

    router.post('/transfer/import', async (req, res) => {
      const credentials = await ctx.credentials(req);
      const allowed =
        (await ctx.isAllowed(req, modelHubImportPermission)) ||
        (await ctx.isAllowed(req, modelHubAdminPermission));
      if (!allowed) {
        throw new NotAllowedError(
          'Not allowed: model-hub.import (or model-hub.admin)',
        );
      }
      const declared = req.headers['content-length'];
      const body = req.iterator({ destroyOnReturn: false });
      const result = await ctx.audited(
        req,
        {
          eventId: 'model-hub-import',
          severityLevel: 'high',
          meta: { policy: config.importedApprovals },
        },
        async () => {
          try {
            const imported = await importBundle({
              // a refused bundle stops the reading, not the connection:
              // the 400 still reaches the client (see below)
              source: body,
              config,
              knex,
              artifacts: ctx.options.artifacts,
              actor: principalRef(credentials),
              logger: ctx.options.logger,
              declaredLength: declared ? Number(declared) : undefined,
            });
            return {
              result: imported,
              credentials,
              meta: {
                portal: imported.portal,
                keyId: imported.keyId,
                indexDigest: imported.indexDigest,
                versions: imported.versions.map(v => `${v.model}@${v.label}`),
              },
            };
          } catch (error) {
            ctx.options.logger.warn(
              `Import refused: ${(error as Error).message}`,
            );
            // detach the reader (its listeners would keep the request
            // paused), then discard the rest
            await body.return?.();
            drainRefused(req);
            throw error;
          }
        },
      );
      for (const v of result.versions) {
        await ctx.store.addAuditEvent({
          eventId: 'model-hub-version-import',
          actor: principalRef(credentials),
          modelRef: v.model,
          versionLabel: v.label,
          meta: {
            portal: result.portal,
            keyId: result.keyId,
            policy: result.policy,
            state: v.state,
            manifestDigest: v.manifestDigest,
          },
        });
      }
      res.status(201).json(result);
    });

    router.get(
      '/models/:namespace/:name/versions/:label/import-evidence',
      async (req, res) => {
        const params = parseInput(
          versionParams,
          req.params,
          'version reference',
        );
        const model = await ctx.requireModel(params);
        const version = await ctx.requireVersion(model, params.label);
        const imported = await getImportEvidence(knex, version.id);
        res.json({ imported: imported ?? null });
      },
    );
  };
  return {
    id: 'transfer',
    routes: [routes],
    // the public key of the transfer signatures is public
    authPolicies: [{ path: '/transfer/public-key', allow: 'unauthenticated' }],
  };
}
