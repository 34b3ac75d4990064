import { Config } from '@backstage/config';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KeyObject } from 'node:crypto';
import { keyFingerprint, readPrivateKey, readPublicKey } from './signing';

/** A portal whose bundles this portal accepts. @internal */
export type TrustedPortalKey = {
  name: string;
  key: KeyObject;
  /** `sha256:<hex>` of the key's SubjectPublicKeyInfo (DER). */
  keyId: string;
};

/** `modelHub.transfer`, read. @internal */
export type TransferConfig = {
  /** The name of this portal, written into bundles it signs. */
  portalName: string;
  /** This portal's signing key; exports answer 503 without it. */
  signingKey?: { privateKey: KeyObject; publicKey: KeyObject; keyId: string };
  trustedKeys: TrustedPortalKey[];
  /** The state imported approvals land in. */
  importedApprovals: 'trust' | 'review';
  limits: {
    /** The largest bundle an import reads. */
    maxBundleBytes: number;
    /** The largest blob (file) in a bundle. */
    maxBlobBytes: number;
    /** The most tar entries in a bundle. */
    maxEntries: number;
    /** The largest JSON document (index, manifest, config, evidence). */
    maxJsonBytes: number;
  };
  /** Where imports spool blobs until they are verified. */
  stagingDirectory: string;
};

const MiB = 1024 * 1024;

/**
 * Reads `modelHub.transfer`. A key that does not parse is a startup error
 * (a portal that silently cannot sign or verify is worse).
 *
 * @internal
 */
export function readTransferConfig(
  config: Config,
  defaults: {
    maxBlobBytes: number;
    /** Default staging folder (next to the local store: same filesystem). */
    stagingDirectory?: string;
  },
): TransferConfig {
  const t = config.getOptionalConfig('modelHub.transfer');
  const portalName =
    t?.getOptionalString('portalName') ??
    config.getOptionalString('app.title') ??
    config.getOptionalString('backend.baseUrl') ??
    'model-hub';
  const pem = t?.getOptionalString('signingKey');
  let signingKey: TransferConfig['signingKey'];
  if (pem) {
    const privateKey = readPrivateKey(pem, 'modelHub.transfer.signingKey');
    const publicKey = readPublicKey(privateKey, 'modelHub.transfer.signingKey');
    signingKey = { privateKey, publicKey, keyId: keyFingerprint(publicKey) };
  }
  const trustedKeys = (t?.getOptionalConfigArray('trustedKeys') ?? []).map(
    (entry, i) => {
      const key = readPublicKey(
        entry.getString('publicKey'),
        `modelHub.transfer.trustedKeys[${i}].publicKey`,
      );
      return {
        name: entry.getString('name'),
        key,
        keyId: keyFingerprint(key),
      };
    },
  );
  const policy = t?.getOptionalString('importedApprovals') ?? 'review';
  if (policy !== 'trust' && policy !== 'review') {
    throw new Error(
      `modelHub.transfer.importedApprovals must be trust or review, got '${policy}'`,
    );
  }
  const positive = (key: string, fallback: number) => {
    const value = t?.getOptionalNumber(key) ?? fallback;
    if (!(value > 0)) {
      throw new Error(`modelHub.transfer.${key} must be positive`);
    }
    return value;
  };
  const staging = t?.getOptionalString('stagingDirectory');
  return {
    portalName,
    signingKey,
    trustedKeys,
    importedApprovals: policy,
    limits: {
      maxBundleBytes: Math.floor(
        positive('maxBundleSizeMiB', 4 * 1024 * 1024) * MiB,
      ),
      maxBlobBytes: t?.has('maxBlobSizeMiB')
        ? Math.floor(positive('maxBlobSizeMiB', 1) * MiB)
        : defaults.maxBlobBytes,
      maxEntries: positive('maxEntries', 100_000),
      maxJsonBytes: Math.floor(positive('maxJsonSizeMiB', 16) * MiB),
    },
    stagingDirectory: resolve(
      staging ??
        defaults.stagingDirectory ??
        join(tmpdir(), 'model-hub-transfer'),
    ),
  };
}
