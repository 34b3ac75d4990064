import { createHash } from 'node:crypto';

/**
 * The shapes of a transfer bundle: an OCI image layout (`oci-layout`,
 * `index.json`, `blobs/sha256/<hex>`) with one image manifest per version.
 * Each manifest's config is an OCI image config (so standard tools such as
 * `skopeo inspect` read it) carrying the model's metadata; its layers are
 * the version's files (one per file, named by the
 * `org.opencontainers.image.title` annotation) followed by the approval
 * evidence. The index carries the portal, its key and an Ed25519
 * signature over everything else the index says (see
 * {@link signedStatement}); as the index names every manifest by digest,
 * and every manifest names its config, files and evidence by digest, the
 * signature covers every byte of the bundle.
 */

export const OCI_LAYOUT = { imageLayoutVersion: '1.0.0' } as const;
export const MEDIA_TYPE_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_TYPE_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_TYPE_CONFIG = 'application/vnd.oci.image.config.v1+json';
/** A file of a version, stored as it is (not a tar layer). */
export const MEDIA_TYPE_FILE = 'application/vnd.model-hub.file.v1';
export const MEDIA_TYPE_EVIDENCE =
  'application/vnd.model-hub.approval-evidence.v1+json';
export const ARTIFACT_TYPE = 'application/vnd.model-hub.model-version.v1';

export const ANNOTATION_TITLE = 'org.opencontainers.image.title';
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';
export const ANNOTATION_MODEL = 'dev.model-hub.model';
export const ANNOTATION_VERSION = 'dev.model-hub.version';
export const ANNOTATION_FILE_KIND = 'dev.model-hub.file.kind';
export const ANNOTATION_APPROVED_DIGEST = 'dev.model-hub.approved-digest';
export const ANNOTATION_EVIDENCE_DIGEST = 'dev.model-hub.evidence.digest';
export const ANNOTATION_PORTAL = 'dev.model-hub.transfer.portal';
export const ANNOTATION_KEY_ID = 'dev.model-hub.transfer.key-id';
export const ANNOTATION_SIGNATURE = 'dev.model-hub.transfer.signature';

export const STATEMENT_SCHEMA = 'model-hub-transfer/v1';
export const EVIDENCE_SCHEMA = 'model-hub-approval-evidence/v1';

/** @internal */
export type Descriptor = {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
};

/** @internal */
export type OciIndex = {
  schemaVersion: 2;
  mediaType: typeof MEDIA_TYPE_INDEX;
  manifests: Descriptor[];
  annotations: Record<string, string>;
};

/** @internal */
export type OciManifest = {
  schemaVersion: 2;
  mediaType: typeof MEDIA_TYPE_MANIFEST;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
};

/** The model metadata a bundle carries (in each version's config). @internal */
export type BundleModel = {
  namespace: string;
  name: string;
  title?: string;
  description?: string;
  type: string;
  task?: string;
  format?: string;
  license?: string;
  lifecycle: string;
  owner: string;
  tags: string[];
};

/** The version metadata a bundle carries. @internal */
export type BundleVersion = {
  label: string;
  notes?: string;
  createdBy: string;
  createdAt: string;
  contentDigest: string;
  approvedDigest: string;
  state: string;
  /** Whether it was the model's active version on the exporting portal. */
  active: boolean;
};

/** A JSON document as a blob. @internal */
export function jsonBlob(value: unknown): {
  bytes: Buffer;
  digest: string;
  hex: string;
} {
  const bytes = Buffer.from(JSON.stringify(value));
  const hex = createHash('sha256').update(bytes).digest('hex');
  return { bytes, digest: `sha256:${hex}`, hex };
}

/** The tar entry name of a blob. @internal */
export function blobPath(hex: string): string {
  return `blobs/sha256/${hex}`;
}

/**
 * What the signature of a bundle covers: the index without its signature,
 * with the schema of the statement.
 *
 * @internal
 */
export function signedStatement(index: {
  manifests: Descriptor[];
  annotations: Record<string, string>;
}) {
  const { [ANNOTATION_SIGNATURE]: _signature, ...annotations } =
    index.annotations;
  return {
    schema: STATEMENT_SCHEMA,
    annotations,
    manifests: index.manifests,
  };
}

/** A name `skopeo` accepts after `oci-archive:<file>:`. @internal */
export function refName(model: BundleModel, label: string): string {
  return `${model.namespace}/${model.name}:${label}`.toLowerCase();
}
