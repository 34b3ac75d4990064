import { createHash, KeyObject } from 'node:crypto';
import { ConflictError, InputError } from '@backstage/errors';
import type { ApprovalsService } from '../approvals/ApprovalsService';
import { contentDigest } from '../database/contentDigest';
import { HubFile, HubModel, HubVersion } from '../database/types';
import { ArtifactStore } from '../store/ArtifactStore';
import {
  ANNOTATION_APPROVED_DIGEST,
  ANNOTATION_CREATED,
  ANNOTATION_EVIDENCE_DIGEST,
  ANNOTATION_FILE_KIND,
  ANNOTATION_KEY_ID,
  ANNOTATION_MODEL,
  ANNOTATION_PORTAL,
  ANNOTATION_REF_NAME,
  ANNOTATION_SIGNATURE,
  ANNOTATION_TITLE,
  ANNOTATION_VERSION,
  ARTIFACT_TYPE,
  blobPath,
  BundleModel,
  BundleVersion,
  Descriptor,
  EVIDENCE_SCHEMA,
  jsonBlob,
  MEDIA_TYPE_CONFIG,
  MEDIA_TYPE_EVIDENCE,
  MEDIA_TYPE_FILE,
  MEDIA_TYPE_INDEX,
  MEDIA_TYPE_MANIFEST,
  OCI_LAYOUT,
  OciIndex,
  OciManifest,
  refName,
  signedStatement,
} from './oci';
import { signStatement } from './signing';
import { tarEnd, tarHeader, tarPadding } from './tar';

/** The states a version can be exported in: it was approved. @internal */
export const EXPORTABLE_STATES = ['approved', 'deprecated'];

/** One version to export, with everything the bundle says of it. @internal */
export type ExportItem = {
  model: HubModel;
  version: HubVersion;
  files: HubFile[];
  evidence: Record<string, unknown>;
  active: boolean;
};

/**
 * The approval evidence of a version, from the approvals store: review
 * rounds (submissions), decisions with their actors and times, checks and
 * waivers with their results, comments, the audit trail of the version and
 * the approved content digest.
 *
 * @internal
 */
export async function collectEvidence(options: {
  approvals: ApprovalsService;
  model: HubModel;
  version: HubVersion;
  portal: string;
  exportedBy: string;
  now: Date;
}): Promise<Record<string, unknown>> {
  const { model, version } = options;
  const review = await options.approvals.review(model, version);
  const approvedBy = review.decisions.filter(
    d => d.decision === 'approve' && d.round === review.round,
  );
  return {
    schema: EVIDENCE_SCHEMA,
    portal: options.portal,
    exportedAt: options.now.toISOString(),
    exportedBy: options.exportedBy,
    model: model.entityRef,
    version: version.label,
    state: version.state,
    contentDigest: version.contentDigest,
    approvedDigest: version.approvedDigest,
    policy: review.policy,
    round: review.round,
    approvals: review.approvals,
    approvedBy: approvedBy.map(d => ({
      reviewer: d.reviewer,
      at: d.createdAt,
      contentDigest: d.contentDigest,
    })),
    submissions: review.submissions,
    decisions: review.decisions,
    checks: review.checks.items,
    waivers: review.checks.waivers,
    comments: review.comments,
    auditTrail: review.history,
  };
}

/** Checks that a version may leave the portal. @internal */
export function assertExportable(model: HubModel, version: HubVersion) {
  if (!EXPORTABLE_STATES.includes(version.state)) {
    throw new ConflictError(
      `Version ${version.label} of ${model.entityRef} is ${version.state}; only approved versions can be exported`,
    );
  }
  if (
    !version.approvedDigest ||
    version.approvedDigest !== version.contentDigest
  ) {
    throw new ConflictError(
      `Version ${version.label} of ${model.entityRef} does not hold the content it was approved with`,
    );
  }
}

function bundleModel(model: HubModel): BundleModel {
  return {
    namespace: model.namespace,
    name: model.name,
    title: model.title,
    description: model.description,
    type: model.type,
    task: model.task,
    format: model.format,
    license: model.license,
    lifecycle: model.lifecycle,
    owner: model.owner,
    tags: model.tags ?? [],
  };
}

type Prepared = {
  index: OciIndex;
  /** The bytes of `index.json`. */
  indexBytes: Buffer;
  /** Small JSON blobs (manifests, configs, evidence) by hex digest. */
  documents: Map<string, Buffer>;
  /** Files by hex digest, each once. */
  files: Map<string, { size: number }>;
};

/** Builds the manifests, configs, evidence and the signed index. @internal */
export function prepareBundle(options: {
  items: ExportItem[];
  portal: string;
  signingKey: { privateKey: KeyObject; keyId: string };
  now: Date;
}): Prepared {
  const documents = new Map<string, Buffer>();
  const files = new Map<string, { size: number }>();
  const manifests: Descriptor[] = [];
  const seen = new Set<string>();
  for (const {
    model,
    version,
    files: list,
    evidence,
    active,
  } of options.items) {
    const key = `${model.entityRef}@${version.label}`;
    if (seen.has(key)) {
      throw new InputError(
        `Version ${version.label} of ${model.entityRef} is listed twice`,
      );
    }
    seen.add(key);
    if (contentDigest(list) !== version.approvedDigest) {
      throw new ConflictError(
        `The files of version ${version.label} of ${model.entityRef} changed while it was exported`,
      );
    }
    const meta = bundleModel(model);
    const versionMeta: BundleVersion = {
      label: version.label,
      notes: version.notes,
      createdBy: version.createdBy,
      createdAt: version.createdAt,
      contentDigest: version.contentDigest!,
      approvedDigest: version.approvedDigest!,
      state: version.state,
      active,
    };
    const evidenceBlob = jsonBlob(evidence);
    documents.set(evidenceBlob.hex, evidenceBlob.bytes);
    const fileLayers: Descriptor[] = [...list]
      .sort((a, b) => (a.path < b.path ? -1 : Number(a.path > b.path)))
      .map(f => {
        files.set(f.sha256, { size: Number(f.size) });
        return {
          mediaType: MEDIA_TYPE_FILE,
          digest: `sha256:${f.sha256}`,
          size: Number(f.size),
          annotations: {
            [ANNOTATION_TITLE]: f.path,
            [ANNOTATION_FILE_KIND]: f.kind,
          },
        };
      });
    const config = jsonBlob({
      created: version.createdAt,
      author: version.createdBy,
      architecture: 'unknown',
      os: 'unknown',
      config: {
        Labels: {
          [ANNOTATION_MODEL]: model.entityRef,
          [ANNOTATION_VERSION]: version.label,
          [ANNOTATION_APPROVED_DIGEST]: version.approvedDigest!,
        },
      },
      rootfs: { type: 'layers', diff_ids: fileLayers.map(l => l.digest) },
      'dev.model-hub.model': meta,
      'dev.model-hub.version': versionMeta,
    });
    documents.set(config.hex, config.bytes);
    const manifest: OciManifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_MANIFEST,
      artifactType: ARTIFACT_TYPE,
      config: {
        mediaType: MEDIA_TYPE_CONFIG,
        digest: config.digest,
        size: config.bytes.length,
      },
      layers: [
        ...fileLayers,
        {
          mediaType: MEDIA_TYPE_EVIDENCE,
          digest: evidenceBlob.digest,
          size: evidenceBlob.bytes.length,
        },
      ],
      annotations: {
        [ANNOTATION_MODEL]: model.entityRef,
        [ANNOTATION_VERSION]: version.label,
        [ANNOTATION_APPROVED_DIGEST]: version.approvedDigest!,
        [ANNOTATION_EVIDENCE_DIGEST]: evidenceBlob.digest,
        [ANNOTATION_CREATED]: version.createdAt,
        ...(model.title ? { [ANNOTATION_TITLE]: model.title } : {}),
      },
    };
    const manifestBlob = jsonBlob(manifest);
    documents.set(manifestBlob.hex, manifestBlob.bytes);
    manifests.push({
      mediaType: MEDIA_TYPE_MANIFEST,
      digest: manifestBlob.digest,
      size: manifestBlob.bytes.length,
      annotations: {
        [ANNOTATION_REF_NAME]: refName(meta, version.label),
        [ANNOTATION_MODEL]: model.entityRef,
        [ANNOTATION_VERSION]: version.label,
        [ANNOTATION_EVIDENCE_DIGEST]: evidenceBlob.digest,
      },
    });
  }
  const unsigned = {
    manifests,
    annotations: {
      [ANNOTATION_PORTAL]: options.portal,
      [ANNOTATION_KEY_ID]: options.signingKey.keyId,
      [ANNOTATION_CREATED]: options.now.toISOString(),
    } as Record<string, string>,
  };
  const signature = signStatement(
    signedStatement(unsigned),
    options.signingKey.privateKey,
  );
  const index: OciIndex = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_INDEX,
    manifests,
    annotations: { ...unsigned.annotations, [ANNOTATION_SIGNATURE]: signature },
  };
  return {
    index,
    indexBytes: Buffer.from(JSON.stringify(index)),
    documents,
    files,
  };
}

/** The exact size of the tar stream of a prepared bundle. @internal */
export function bundleSize(prepared: Prepared): number {
  const { indexBytes } = prepared;
  const entry = (size: number) => 512 + size + tarPadding(size).length;
  let total = 512 * 2 + entry(Buffer.byteLength(JSON.stringify(OCI_LAYOUT)));
  total += entry(indexBytes.length) + 1024; // two directories, the end
  for (const bytes of prepared.documents.values()) {
    total += entry(bytes.length);
  }
  for (const { size } of prepared.files.values()) {
    total += entry(size);
  }
  return total;
}

/**
 * The tar stream of a bundle: the layout, the index and the JSON documents
 * first (so a reader knows the manifests before the files), then every file
 * blob once, read from the store and hashed as it streams; a blob whose
 * bytes do not hash to its digest ends the stream with an error, so a
 * corrupted store never produces a bundle that looks complete.
 *
 * @internal
 */
export async function* writeBundle(options: {
  prepared: Prepared;
  artifacts: ArtifactStore;
}): AsyncGenerator<Buffer> {
  const { prepared, artifacts } = options;
  const mtime = new Date(prepared.index.annotations[ANNOTATION_CREATED]);
  function* small(name: string, bytes: Buffer) {
    yield tarHeader({ name, size: bytes.length, type: 'file', mtime });
    yield bytes;
    yield tarPadding(bytes.length);
  }
  yield* small('oci-layout', Buffer.from(JSON.stringify(OCI_LAYOUT)));
  yield* small('index.json', prepared.indexBytes);
  yield tarHeader({ name: 'blobs/', size: 0, type: 'directory', mtime });
  yield tarHeader({ name: 'blobs/sha256/', size: 0, type: 'directory', mtime });
  for (const [hex, bytes] of prepared.documents) {
    yield* small(blobPath(hex), bytes);
  }
  for (const [hex, { size }] of prepared.files) {
    yield tarHeader({ name: blobPath(hex), size, type: 'file', mtime });
    const hash = createHash('sha256');
    let written = 0;
    for await (const chunk of await artifacts.get(hex)) {
      const buffer = chunk as Buffer;
      written += buffer.length;
      if (written > size) {
        throw new Error(
          `Blob sha256:${hex} in the store is larger than ${size} bytes`,
        );
      }
      hash.update(buffer);
      yield buffer;
    }
    const actual = hash.digest('hex');
    if (written !== size || actual !== hex) {
      throw new Error(
        `Blob sha256:${hex} in the store does not match its digest (read ${written} bytes hashing to sha256:${actual}); export aborted`,
      );
    }
    yield tarPadding(size);
  }
  yield tarEnd();
}
