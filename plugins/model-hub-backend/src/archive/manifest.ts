import { InputError } from '@backstage/errors';
import { z } from 'zod';

const sha256 = z
  .string()
  .transform(s => s.replace(/^sha256:/, '').toLowerCase())
  .pipe(z.string().regex(/^[a-f0-9]{64}$/, 'must be a SHA-256 hex digest'));

/** `model-manifest.json`. @internal */
export const modelManifestSchema = z.object({
  name: z.string().min(1).max(255),
  version: z.string().min(1).max(128).optional(),
  files: z
    .array(
      z.object({
        path: z.string().min(1).max(1024),
        sha256,
        size: z.number().int().min(0).optional(),
      }),
    )
    .max(100_000),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** `deployment_manifest.json` of the metadata.json layout. @internal */
export const deploymentManifestSchema = z.object({
  file_hashes: z.record(z.string().min(1).max(1024), sha256),
});

/** `metadata.json` of that layout (fields used by the import). @internal */
export const packageMetadataSchema = z
  .object({
    name: z.string().min(1).max(255).optional(),
    version: z.string().min(1).max(128).optional(),
  })
  .passthrough();

/** The manifest files of the two package layouts. @internal */
export const MANIFEST_FILES = [
  'model-manifest.json',
  'metadata.json',
  'deployment_manifest.json',
];

/** What a package manifest declares. @internal */
export type PackageManifest = {
  layout: 'model-manifest' | 'deployment-manifest';
  name?: string;
  version?: string;
  metadata?: Record<string, unknown>;
  /** Expected digests (and sizes) of every file other than the manifests. */
  files: Map<string, { sha256: string; size?: number }>;
  /** Which files hold the manifest. */
  manifestFiles: string[];
};

function parseJson(name: string, data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch (e) {
    throw new InputError(
      `Invalid package: ${name} is not valid JSON: ${(e as Error).message}`,
    );
  }
}

function check<T extends z.ZodType>(schema: T, value: unknown, name: string) {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new InputError(
      `Invalid package: ${name}: ${r.error.issues
        .map(i => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ')}`,
    );
  }
  return r.data as z.output<T>;
}

/**
 * Reads the manifest of a package from the contents of its manifest files
 * (at the root of the archive).
 *
 * @internal
 */
export function readManifest(contents: Map<string, Buffer>): PackageManifest {
  const mm = contents.get('model-manifest.json');
  if (mm) {
    const m = check(
      modelManifestSchema,
      parseJson('model-manifest.json', mm),
      'model-manifest.json',
    );
    const files = new Map<string, { sha256: string; size?: number }>();
    for (const f of m.files) {
      if (files.has(f.path)) {
        throw new InputError(
          `Invalid package: model-manifest.json lists ${f.path} twice`,
        );
      }
      files.set(f.path, { sha256: f.sha256, size: f.size });
    }
    return {
      layout: 'model-manifest',
      name: m.name,
      version: m.version,
      metadata: m.metadata,
      files,
      manifestFiles: ['model-manifest.json'],
    };
  }
  const dm = contents.get('deployment_manifest.json');
  const md = contents.get('metadata.json');
  if (dm && md) {
    const d = check(
      deploymentManifestSchema,
      parseJson('deployment_manifest.json', dm),
      'deployment_manifest.json',
    );
    const meta = check(
      packageMetadataSchema,
      parseJson('metadata.json', md),
      'metadata.json',
    );
    const files = new Map<string, { sha256: string; size?: number }>();
    for (const [path, digest] of Object.entries(d.file_hashes)) {
      if (path !== 'metadata.json') {
        files.set(path, { sha256: digest });
      }
    }
    const expectedMeta = d.file_hashes['metadata.json'];
    return {
      layout: 'deployment-manifest',
      name: meta.name,
      version: meta.version,
      metadata: meta as Record<string, unknown>,
      files: expectedMeta
        ? new Map([...files, ['metadata.json', { sha256: expectedMeta }]])
        : files,
      manifestFiles: expectedMeta
        ? ['deployment_manifest.json']
        : ['deployment_manifest.json', 'metadata.json'],
    };
  }
  throw new InputError(
    'Invalid package: no manifest; a package needs model-manifest.json, or metadata.json with deployment_manifest.json, at its root',
  );
}
