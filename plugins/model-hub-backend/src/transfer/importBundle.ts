import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError } from '@backstage/errors';
import { LoggerService } from '@backstage/backend-plugin-api';
import { Knex } from 'knex';
import {
  DatabaseModelHubStore,
  modelEntityRef,
} from '../database/DatabaseModelHubStore';
import { VersionsStore } from '../database/VersionsStore';
import { ActiveVersionsStore } from '../approvals/ActiveVersionsStore';
import { ReviewStore } from '../approvals/ReviewStore';
import { ArtifactStore, PutBlobResult } from '../store/ArtifactStore';
import { TransferConfig } from './config';
import { ImportsStore } from './ImportsStore';
import { reject, stage, StagedBlob } from './stageBundle';
import { verify, VerifiedVersion } from './verifyBundle';

export { getImportEvidence } from './ImportsStore';

/** A version an import created. @internal */
export type ImportedVersion = {
  model: string;
  label: string;
  state: 'approved' | 'in_review';
  files: number;
  bytes: number;
  manifestDigest: string;
  createdModel: boolean;
};

/** What an import did. @internal */
export type ImportResult = {
  portal: string;
  trustedKeyName: string;
  keyId: string;
  indexDigest: string;
  policy: 'trust' | 'review';
  versions: ImportedVersion[];
};

/**
 * Imports a signed transfer bundle from a stream, all or nothing:
 *
 * 1. the tar is read as a stream; every blob is spooled into a private
 *    staging folder while it is hashed, and refused as soon as it does not
 *    hash to its name, repeats a name with other content, or passes a limit;
 * 2. the index's signature is verified against the trusted portal keys,
 *    and every manifest, config, file and evidence the index reaches is
 *    checked (present, sizes, file paths, the approved content digest);
 * 3. only then are the file blobs moved into the artifact store, and the
 *    models, versions, files and evidence are written in one database
 *    transaction. When that fails, the blobs the import added are deleted
 *    again; the staging folder is always removed.
 *
 * @internal
 */
export async function importBundle(options: {
  source: AsyncIterable<Buffer>;
  config: TransferConfig;
  knex: Knex;
  artifacts: ArtifactStore;
  actor: string;
  logger: LoggerService;
  /** The declared length of the request, refused early when too large. */
  declaredLength?: number;
}): Promise<ImportResult> {
  const { config, knex, artifacts } = options;
  const { limits } = config;
  if (
    options.declaredLength !== undefined &&
    options.declaredLength > limits.maxBundleBytes
  ) {
    reject(
      `the bundle is ${options.declaredLength} bytes, over the limit of ${limits.maxBundleBytes} bytes`,
    );
  }
  await mkdir(config.stagingDirectory, { recursive: true });
  const staging = await mkdtemp(join(config.stagingDirectory, 'import-'));
  try {
    const staged = await stage(options.source, staging, limits);
    const verified = await verify(staged, config);
    return await commit({
      verified: verified.versions,
      staged: staged.blobs,
      knex,
      artifacts,
      actor: options.actor,
      logger: options.logger,
      summary: {
        portal: verified.portal,
        trustedKeyName: verified.key.name,
        keyId: verified.key.keyId,
        indexDigest: verified.indexDigest,
        policy: config.importedApprovals,
        versions: [],
      },
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * A version of a bundle goes into a model of this portal with the same
 * name only when the same group owns it here: a name two teams use on two
 * portals is not one model, and an import never adds (nor makes active) a
 * version in another team's model.
 */
function assertSameOwner(
  here: { owner: string },
  v: VerifiedVersion,
  ref: string,
  portal: string,
) {
  if (here.owner.toLocaleLowerCase('en-US') !== v.model.owner) {
    throw new ConflictError(
      `Model ${ref} is owned by ${here.owner} on this portal, but by ${v.model.owner} on portal ${portal}; version ${v.version.label} is not imported into it`,
    );
  }
}

/** Step 3: blobs into the store, rows in one transaction. */
async function commit(options: {
  verified: VerifiedVersion[];
  staged: Map<string, StagedBlob>;
  knex: Knex;
  artifacts: ArtifactStore;
  actor: string;
  logger: LoggerService;
  summary: ImportResult;
}): Promise<ImportResult> {
  const { verified, staged, knex, artifacts, actor, summary } = options;
  // a version that exists already, or a model of that name that another
  // group owns here, is a conflict, found before any byte moves
  for (const v of verified) {
    const ref = modelEntityRef(v.model.namespace, v.model.name);
    const model = await knex('models')
      .where({ entity_ref: ref })
      .first('owner');
    if (model) {
      assertSameOwner(model, v, ref, summary.portal);
    }
    const existing = await knex('model_versions as v')
      .join('models as m', 'm.id', 'v.model_id')
      .where({ 'm.entity_ref': ref, 'v.label': v.version.label })
      .first('v.id');
    if (existing) {
      throw new ConflictError(
        `Version ${v.version.label} of ${ref} already exists on this portal`,
      );
    }
  }
  const stored = new Map<string, PutBlobResult>();
  try {
    for (const v of verified) {
      for (const f of v.files) {
        if (!stored.has(f.sha256)) {
          const blob = staged.get(f.sha256)!;
          const { size } = await stat(blob.path);
          stored.set(
            f.sha256,
            await artifacts.putFile({
              path: blob.path,
              sha256: f.sha256,
              size,
            }),
          );
        }
      }
    }
    const now = new Date();
    await knex.transaction(async trx => {
      const store = await DatabaseModelHubStore.create({
        database: { getClient: async () => trx } as any,
        skipMigrations: true,
      });
      // every row is written by its table's owner, in this transaction
      const versions = new VersionsStore(trx);
      const reviews = new ReviewStore(trx);
      const activeVersions = new ActiveVersionsStore(trx);
      const imports = new ImportsStore(trx);
      for (const v of verified) {
        const ref = modelEntityRef(v.model.namespace, v.model.name);
        let model = await store.getModel({ entityRef: ref });
        const createdModel = !model;
        if (model) {
          // (created since the check above)
          assertSameOwner(model, v, ref, summary.portal);
        } else {
          model = await store.createModel({
            namespace: v.model.namespace,
            name: v.model.name,
            title: v.model.title ?? undefined,
            description: v.model.description ?? undefined,
            type: v.model.type,
            task: v.model.task ?? undefined,
            format: v.model.format ?? undefined,
            license: v.model.license ?? undefined,
            lifecycle: v.model.lifecycle,
            owner: v.model.owner,
            tags: v.model.tags,
            sourceType: 'upload',
            createdBy: actor,
          });
        }
        const version = await store.createVersion({
          modelId: model.id,
          label: v.version.label,
          sourceType: 'upload',
          notes: v.version.notes ?? undefined,
          createdBy: actor,
          files: v.files.map(f => ({
            path: f.path,
            kind: f.kind,
            blob: {
              sha256: f.sha256,
              size: f.size,
              location: stored.get(f.sha256)!.location,
            },
          })),
        });
        if (version.contentDigest !== v.version.approvedDigest) {
          reject(
            `version ${v.version.label} of ${ref} got content digest ${version.contentDigest}, not the approved ${v.version.approvedDigest}`,
          );
        }
        const trust = summary.policy === 'trust';
        await versions.setState(trx, {
          versionId: version.id,
          state: trust ? 'approved' : 'in_review',
          approvedDigest: trust ? version.contentDigest : null,
          now,
        });
        if (!trust) {
          await reviews.addSubmission(
            {
              versionId: version.id,
              round: 1,
              submittedBy: actor,
              comment: `Imported from portal ${summary.portal}; its approval evidence is attached to the version`,
              at: now,
              contentDigest: version.contentDigest ?? null,
            },
            trx,
          );
        }
        if (trust && v.version.active) {
          await activeVersions.promoteIfNone(
            { modelId: model.id, versionId: version.id, actor, at: now },
            trx,
          );
        }
        await imports.record(
          {
            versionId: version.id,
            portal: summary.portal,
            trustedKeyName: summary.trustedKeyName,
            keyId: summary.keyId,
            indexDigest: summary.indexDigest,
            manifestDigest: v.manifestDigest,
            policy: summary.policy,
            evidence: v.evidence,
            importedBy: actor,
            importedAt: now,
          },
          trx,
        );
        summary.versions.push({
          model: ref,
          label: v.version.label,
          state: trust ? 'approved' : 'in_review',
          files: v.files.length,
          bytes: v.files.reduce((n, f) => n + f.size, 0),
          manifestDigest: v.manifestDigest,
          createdModel,
        });
      }
    });
    return summary;
  } catch (error) {
    // nothing left behind: the blobs this import added, unless a row
    // points at them by now (the same content uploaded meanwhile)
    const added = [...stored].filter(([, r]) => r.created).map(([hex]) => hex);
    const referenced = added.length
      ? new Set(
          (await knex('blobs').whereIn('sha256', added).select('sha256')).map(
            (r: { sha256: string }) => r.sha256,
          ),
        )
      : new Set<string>();
    for (const hex of added) {
      if (!referenced.has(hex)) {
        await artifacts
          .delete(hex)
          .catch(e =>
            options.logger.warn(
              `Could not remove blob ${hex} of a failed import: ${e}`,
            ),
          );
      }
    }
    summary.versions = [];
    throw error;
  }
}
