import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, InputError } from '@backstage/errors';
import { LoggerService } from '@backstage/backend-plugin-api';
import { Knex } from 'knex';
import { z } from 'zod';
import { contentDigest } from '../database/contentDigest';
import {
  DatabaseModelHubStore,
  modelEntityRef,
} from '../database/DatabaseModelHubStore';
import { FILE_KINDS, FileKind } from '../database/types';
import { ArtifactStore, PutBlobResult } from '../store/ArtifactStore';
import {
  createModelBody,
  parseFilePath,
  versionParams,
} from '../service/validation';
import { TransferConfig, TrustedPortalKey } from './config';
import {
  ANNOTATION_CREATED,
  ANNOTATION_EVIDENCE_DIGEST,
  ANNOTATION_FILE_KIND,
  ANNOTATION_KEY_ID,
  ANNOTATION_MODEL,
  ANNOTATION_PORTAL,
  ANNOTATION_SIGNATURE,
  ANNOTATION_TITLE,
  ANNOTATION_VERSION,
  EVIDENCE_SCHEMA,
  MEDIA_TYPE_EVIDENCE,
  MEDIA_TYPE_FILE,
  MEDIA_TYPE_MANIFEST,
  signedStatement,
} from './oci';
import { verifyStatement } from './signing';
import { readTar } from './tar';

const HEX = /^[a-f0-9]{64}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

const descriptor = z.object({
  mediaType: z.string().max(255),
  digest: z.string().regex(DIGEST, 'must be sha256:<64 hex>'),
  size: z.number().int().min(0),
  annotations: z.record(z.string(), z.string()).optional(),
});

const indexSchema = z.object({
  schemaVersion: z.literal(2),
  manifests: z.array(descriptor).min(1).max(1000),
  annotations: z.record(z.string(), z.string()),
});

const manifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MEDIA_TYPE_MANIFEST),
  config: descriptor,
  layers: z.array(descriptor).max(100_000),
  annotations: z.record(z.string(), z.string()).optional(),
});

const modelSchema = createModelBody
  .pick({
    name: true,
    namespace: true,
    title: true,
    description: true,
    type: true,
    task: true,
    format: true,
    license: true,
    lifecycle: true,
    owner: true,
    tags: true,
  })
  .extend({
    title: z.string().max(255).nullish(),
    description: z.string().max(10_000).nullish(),
    task: z.string().max(128).nullish(),
    format: createModelBody.shape.format.nullish(),
    license: z.string().max(128).nullish(),
  });

const versionSchema = z.object({
  label: versionParams.shape.label,
  notes: z.string().max(10_000).nullish(),
  createdBy: z.string().max(255),
  createdAt: z.string().max(64),
  contentDigest: z.string().regex(DIGEST),
  approvedDigest: z.string().regex(DIGEST),
  state: z.string().max(32),
  active: z.boolean().default(false),
});

const configSchema = z.object({
  'dev.model-hub.model': modelSchema,
  'dev.model-hub.version': versionSchema,
});

const evidenceSchema = z
  .object({
    schema: z.literal(EVIDENCE_SCHEMA),
    portal: z.string(),
    model: z.string(),
    version: z.string(),
    approvedDigest: z.string().regex(DIGEST),
  })
  .loose();

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

/** A blob spooled to the staging folder and verified against its name. */
type StagedBlob = { path: string; size: number };

type VerifiedVersion = {
  manifestDigest: string;
  model: z.output<typeof modelSchema>;
  version: z.output<typeof versionSchema>;
  files: Array<{ path: string; kind: FileKind; sha256: string; size: number }>;
  evidence: Record<string, unknown>;
};

function reject(message: string): never {
  throw new InputError(`Rejected bundle: ${message}`);
}

/** The tar entry name of a bundle, checked. */
function entryName(raw: string, type: string, typeFlag: string): string {
  const name = raw.startsWith('./') ? raw.slice(2) : raw;
  const segments = name.split('/');
  if (
    name.startsWith('/') ||
    /^[A-Za-z]:/.test(name) ||
    name.includes('\\') ||
    segments.includes('..')
  ) {
    reject(`entry '${raw}' has a name with path traversal`);
  }
  if (type === 'directory') {
    if (
      !['', 'blobs', 'blobs/', 'blobs/sha256', 'blobs/sha256/'].includes(name)
    ) {
      reject(`unexpected directory '${raw}'`);
    }
    return name;
  }
  if (type !== 'file') {
    reject(
      `entry '${raw}' is of tar type '${typeFlag}' (a link, device or extension header); only files and directories are allowed`,
    );
  }
  if (
    name !== 'oci-layout' &&
    name !== 'index.json' &&
    !/^blobs\/sha256\/[a-f0-9]{64}$/.test(name)
  ) {
    reject(
      `unexpected entry '${raw}' (an OCI layout holds oci-layout, index.json and blobs/sha256/<hex>)`,
    );
  }
  return name;
}

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

/** Step 1: reads the tar, spooling and hashing every blob. */
async function stage(
  source: AsyncIterable<Buffer>,
  staging: string,
  limits: TransferConfig['limits'],
) {
  const blobs = new Map<string, StagedBlob>();
  let layout: Buffer | undefined;
  let index: Buffer | undefined;
  let entries = 0;
  let total = 0;
  for await (const entry of readTar(source)) {
    entries += 1;
    if (entries > limits.maxEntries) {
      reject(`more than ${limits.maxEntries} entries, the limit`);
    }
    const name = entryName(entry.name, entry.type, entry.typeFlag);
    total += entry.size;
    if (total > limits.maxBundleBytes) {
      reject(
        `its entries hold more than ${limits.maxBundleBytes} bytes, the limit`,
      );
    }
    if (entry.type === 'directory') {
      continue;
    }
    if (name === 'oci-layout' || name === 'index.json') {
      if (entry.size > limits.maxJsonBytes) {
        reject(
          `${name} is ${entry.size} bytes, over the limit of ${limits.maxJsonBytes} bytes`,
        );
      }
      if ((name === 'index.json' ? index : layout) !== undefined) {
        reject(`${name} appears twice`);
      }
      const chunks: Buffer[] = [];
      for await (const chunk of entry.body) {
        chunks.push(Buffer.from(chunk));
      }
      if (name === 'index.json') {
        index = Buffer.concat(chunks);
      } else {
        layout = Buffer.concat(chunks);
      }
      continue;
    }
    const hex = name.slice('blobs/sha256/'.length);
    if (entry.size > limits.maxBlobBytes) {
      reject(
        `blob sha256:${hex} is ${entry.size} bytes, over the limit of ${limits.maxBlobBytes} bytes`,
      );
    }
    const path = join(staging, `${entries}`);
    const hash = createHash('sha256');
    const file = await open(path, 'wx');
    try {
      for await (const chunk of entry.body) {
        hash.update(chunk);
        await file.write(chunk);
      }
      await file.sync();
    } finally {
      await file.close();
    }
    const actual = hash.digest('hex');
    const earlier = blobs.get(hex);
    if (earlier) {
      if (actual !== hex) {
        reject(
          `blob sha256:${hex} appears twice with different content (the second copy hashes to sha256:${actual})`,
        );
      }
      await rm(path);
      continue;
    }
    if (actual !== hex) {
      reject(
        `${describeBlob(
          index,
          hex,
        )} was tampered with: its content hashes to sha256:${actual}`,
      );
    }
    blobs.set(hex, { path, size: entry.size });
  }
  if (!layout) {
    reject('oci-layout is missing (not an OCI image layout)');
  }
  if (!index) {
    reject('index.json is missing (not an OCI image layout)');
  }
  return { blobs, layout, index };
}

/**
 * What a blob is, for messages: a manifest when the index (written first
 * by exports) lists it, otherwise a blob.
 */
function describeBlob(index: Buffer | undefined, hex: string): string {
  const digest = `sha256:${hex}`;
  try {
    const parsed = index && JSON.parse(index.toString('utf8'));
    const entry = (parsed?.manifests ?? []).find(
      (m: { digest?: string }) => m?.digest === digest,
    );
    if (entry) {
      return `the manifest ${digest} of ${entry.annotations?.[ANNOTATION_MODEL]}@${entry.annotations?.[ANNOTATION_VERSION]}`;
    }
  } catch {
    // an index that is no JSON is refused later, with its own message
  }
  return `blob ${digest}`;
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    return reject(`${what} is not JSON: ${(error as Error).message}`);
  }
}

function parseWith<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what: string,
): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    reject(
      `${what} is malformed: ${result.error.issues
        .map(i => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ')}`,
    );
  }
  return result.data;
}

/** Step 2: the signature, then everything the index reaches. */
async function verify(
  staged: Awaited<ReturnType<typeof stage>>,
  config: TransferConfig,
) {
  const layout = parseJson(staged.layout, 'oci-layout') as {
    imageLayoutVersion?: unknown;
  };
  if (layout?.imageLayoutVersion !== '1.0.0') {
    reject('oci-layout does not declare imageLayoutVersion 1.0.0');
  }
  const index = parseWith(
    indexSchema,
    parseJson(staged.index, 'index.json'),
    'index.json',
  );
  const indexDigest = `sha256:${createHash('sha256')
    .update(staged.index)
    .digest('hex')}`;
  const portal = index.annotations[ANNOTATION_PORTAL];
  const keyId = index.annotations[ANNOTATION_KEY_ID];
  const signature = index.annotations[ANNOTATION_SIGNATURE];
  if (!portal || !keyId || !signature) {
    reject(
      'the bundle is not signed (index.json has no portal, key id or signature)',
    );
  }
  const key: TrustedPortalKey | undefined = config.trustedKeys.find(
    k => k.keyId === keyId,
  );
  if (!key) {
    reject(
      `it is signed by an unknown key ${keyId} (portal '${portal}'); add the portal's public key to modelHub.transfer.trustedKeys to accept its bundles`,
    );
  }
  if (!verifyStatement(signedStatement(index), signature, key.key)) {
    reject(
      `the signature does not verify with the trusted key '${key.name}' (${keyId}): index.json was changed after signing, or signed with another key`,
    );
  }

  const readDocument = async (digest: string, size: number, what: string) => {
    const blob = staged.blobs.get(digest.slice('sha256:'.length));
    if (!blob) {
      reject(`${what} ${digest} is missing from the bundle`);
    }
    if (blob.size !== size) {
      reject(`${what} ${digest} is ${blob.size} bytes, but ${size} are listed`);
    }
    if (size > config.limits.maxJsonBytes) {
      reject(
        `${what} ${digest} is ${size} bytes, over the limit of ${config.limits.maxJsonBytes} bytes`,
      );
    }
    return parseJson(await readFile(blob.path), `${what} ${digest}`);
  };

  const versions: VerifiedVersion[] = [];
  const seen = new Set<string>();
  for (const entry of index.manifests) {
    const name = `${entry.annotations?.[ANNOTATION_MODEL]}@${entry.annotations?.[ANNOTATION_VERSION]}`;
    if (entry.mediaType !== MEDIA_TYPE_MANIFEST) {
      reject(
        `index.json lists ${entry.digest} as ${entry.mediaType}, not an image manifest`,
      );
    }
    const manifest = parseWith(
      manifestSchema,
      await readDocument(entry.digest, entry.size, `the manifest of ${name}`),
      `the manifest ${entry.digest} of ${name}`,
    );
    const cfg = parseWith(
      configSchema,
      await readDocument(
        manifest.config.digest,
        manifest.config.size,
        `the config of ${name}`,
      ),
      `the config of ${name}`,
    );
    const model = cfg['dev.model-hub.model'];
    const version = cfg['dev.model-hub.version'];
    const ref = modelEntityRef(model.namespace, model.name);
    if (
      manifest.annotations?.[ANNOTATION_MODEL] !== ref ||
      entry.annotations?.[ANNOTATION_MODEL] !== ref ||
      manifest.annotations?.[ANNOTATION_VERSION] !== version.label ||
      entry.annotations?.[ANNOTATION_VERSION] !== version.label
    ) {
      reject(
        `the manifest ${entry.digest} does not name the model and version its index entry and config name (${name})`,
      );
    }
    if (seen.has(`${ref}@${version.label}`)) {
      reject(`version ${version.label} of ${ref} appears twice`);
    }
    seen.add(`${ref}@${version.label}`);
    const evidenceLayers = manifest.layers.filter(
      l => l.mediaType === MEDIA_TYPE_EVIDENCE,
    );
    if (
      evidenceLayers.length !== 1 ||
      evidenceLayers[0].digest !==
        entry.annotations?.[ANNOTATION_EVIDENCE_DIGEST]
    ) {
      reject(
        `the manifest of ${name} does not hold the approval evidence its index entry names`,
      );
    }
    const evidence = parseWith(
      evidenceSchema,
      await readDocument(
        evidenceLayers[0].digest,
        evidenceLayers[0].size,
        `the approval evidence of ${name}`,
      ),
      `the approval evidence of ${name}`,
    );
    const files: VerifiedVersion['files'] = [];
    const paths = new Set<string>();
    for (const layer of manifest.layers) {
      if (layer.mediaType === MEDIA_TYPE_EVIDENCE) {
        continue;
      }
      if (layer.mediaType !== MEDIA_TYPE_FILE) {
        reject(
          `the manifest of ${name} has a layer of unknown type ${layer.mediaType}`,
        );
      }
      let path: string;
      try {
        path = parseFilePath(layer.annotations?.[ANNOTATION_TITLE]);
      } catch (error) {
        return reject(
          `the manifest of ${name} names a file badly (path traversal or invalid): ${
            (error as Error).message
          }`,
        );
      }
      if (paths.has(path)) {
        reject(`the manifest of ${name} lists ${path} twice`);
      }
      paths.add(path);
      const kind = (layer.annotations?.[ANNOTATION_FILE_KIND] ??
        'other') as FileKind;
      if (!FILE_KINDS.includes(kind)) {
        reject(
          `the manifest of ${name} gives ${path} the unknown kind ${kind}`,
        );
      }
      const hex = layer.digest.slice('sha256:'.length);
      const blob = staged.blobs.get(hex);
      if (!blob) {
        reject(
          `file ${path} of ${name} (${layer.digest}) is missing from the bundle`,
        );
      }
      if (blob.size !== layer.size) {
        reject(
          `file ${path} of ${name} is ${blob.size} bytes, but the manifest lists ${layer.size}`,
        );
      }
      files.push({ path, kind, sha256: hex, size: layer.size });
    }
    const digest = contentDigest(files);
    if (
      digest !== version.approvedDigest ||
      digest !== evidence.approvedDigest ||
      manifest.annotations?.['dev.model-hub.approved-digest'] !== digest
    ) {
      reject(
        `the files of ${name} do not have the content digest they were approved with (${version.approvedDigest}; the files make ${digest})`,
      );
    }
    if (evidence.model !== ref || evidence.version !== version.label) {
      reject(
        `the approval evidence in the manifest of ${name} is of ${evidence.model}@${evidence.version}`,
      );
    }
    versions.push({
      manifestDigest: entry.digest,
      model,
      version,
      files,
      evidence,
    });
  }
  if (!HEX.test(indexDigest.slice(7))) {
    reject('index digest');
  }
  return {
    portal,
    key,
    indexDigest,
    versions,
    created: index.annotations[ANNOTATION_CREATED],
  };
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
  // a version that exists already is a conflict, found before any byte moves
  for (const v of verified) {
    const ref = modelEntityRef(v.model.namespace, v.model.name);
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
      for (const v of verified) {
        const ref = modelEntityRef(v.model.namespace, v.model.name);
        let model = await store.getModel({ entityRef: ref });
        const createdModel = !model;
        if (!model) {
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
        await trx('model_versions')
          .where({ id: version.id })
          .update({
            state: trust ? 'approved' : 'in_review',
            approved_digest: trust ? version.contentDigest : null,
            updated_at: now,
            revision: trx.raw('revision + 1'),
          });
        if (!trust) {
          await trx('version_submissions').insert({
            id: randomUUID(),
            version_id: version.id,
            round: 1,
            submitted_by: actor,
            comment: `Imported from portal ${summary.portal}; its approval evidence is attached to the version`,
            submitted_at: now,
            content_digest: version.contentDigest,
          });
        }
        if (trust && v.version.active) {
          const active = await trx('model_active_versions')
            .where({ model_id: model.id })
            .first();
          if (!active) {
            await trx('model_active_versions').insert({
              model_id: model.id,
              version_id: version.id,
              promoted_by: actor,
              promoted_at: now,
            });
            await trx('model_active_version_history').insert({
              model_id: model.id,
              version_id: version.id,
              action: 'promote',
              actor,
              created_at: now,
            });
          }
        }
        await trx('version_imports').insert({
          version_id: version.id,
          portal: summary.portal,
          trusted_key_name: summary.trustedKeyName,
          key_id: summary.keyId,
          index_digest: summary.indexDigest,
          manifest_digest: v.manifestDigest,
          policy: summary.policy,
          evidence: JSON.stringify(v.evidence),
          imported_by: actor,
          imported_at: now,
        });
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

/** The import evidence of a version, or undefined. @internal */
export async function getImportEvidence(knex: Knex, versionId: string) {
  const row = await knex('version_imports')
    .where({ version_id: versionId })
    .first();
  if (!row) {
    return undefined;
  }
  return {
    portal: row.portal as string,
    trustedKeyName: row.trusted_key_name as string,
    keyId: row.key_id as string,
    indexDigest: row.index_digest as string,
    manifestDigest: row.manifest_digest as string,
    policy: row.policy as 'trust' | 'review',
    importedBy: row.imported_by as string,
    importedAt: new Date(row.imported_at).toISOString(),
    evidence: JSON.parse(row.evidence) as Record<string, unknown>,
  };
}
