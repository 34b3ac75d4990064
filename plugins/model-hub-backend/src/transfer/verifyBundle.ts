import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { contentDigest } from '../database/contentDigest';
import { modelEntityRef } from '../database/DatabaseModelHubStore';
import { FILE_KINDS, FileKind } from '../database/types';
import {
  createModelBody,
  describeIssues,
  parseFilePath,
  versionParams,
} from '../service/validation';
import { checkJsonDepth } from '../service/jsonBody';
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
import { reject, stage } from './stageBundle';

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

/** A version of a bundle, verified. @internal */
export type VerifiedVersion = {
  manifestDigest: string;
  model: z.output<typeof modelSchema>;
  version: z.output<typeof versionSchema>;
  files: Array<{ path: string; kind: FileKind; sha256: string; size: number }>;
  evidence: Record<string, unknown>;
};

/**
 * The deepest nesting of a bundle's JSON documents: checked in one linear
 * pass before `JSON.parse`, which takes seconds on a deeply nested text (the
 * index and layout are read before their signature is checked).
 */
const MAX_DOCUMENT_DEPTH = 64;

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    checkJsonDepth(bytes, MAX_DOCUMENT_DEPTH);
  } catch {
    return reject(
      `${what} nests arrays and objects deeper than ${MAX_DOCUMENT_DEPTH} levels`,
    );
  }
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
    reject(`${what} is malformed: ${describeIssues(result.error)}`);
  }
  return result.data;
}

/** Step 2 of an import: the signature, then everything the index reaches. @internal */
export async function verify(
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
