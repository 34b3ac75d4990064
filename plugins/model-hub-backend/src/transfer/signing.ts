import {
  createHash,
  createPrivateKey,
  createPublicKey,
  KeyObject,
  sign,
  verify,
} from 'node:crypto';

/** Reads an Ed25519 private key (PEM, PKCS#8). @internal */
export function readPrivateKey(pem: string, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new Error(`${where} is not a PEM private key: ${error}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(
      `${where} must be an Ed25519 key, got ${key.asymmetricKeyType}`,
    );
  }
  return key;
}

/** Reads an Ed25519 public key (PEM, SPKI), or derives it from a private one. @internal */
export function readPublicKey(
  pemOrKey: string | KeyObject,
  where: string,
): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pemOrKey);
  } catch (error) {
    throw new Error(`${where} is not a PEM public key: ${error}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(
      `${where} must be an Ed25519 key, got ${key.asymmetricKeyType}`,
    );
  }
  return key;
}

/** `sha256:<hex>` of a public key's SubjectPublicKeyInfo (DER). @internal */
export function keyFingerprint(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

/**
 * JSON with the keys of every object sorted (code unit order), no
 * whitespace: the same value always gives the same bytes, whatever order
 * a bundle's JSON lists its keys in.
 *
 * @internal
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : Number(a > b)));
  return `{${entries
    .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`)
    .join(',')}}`;
}

/** Ed25519 signature (base64) of a canonical JSON statement. @internal */
export function signStatement(statement: unknown, key: KeyObject): string {
  return sign(null, Buffer.from(canonicalJson(statement)), key).toString(
    'base64',
  );
}

/** Whether a base64 Ed25519 signature of a statement verifies. @internal */
export function verifyStatement(
  statement: unknown,
  signature: string,
  key: KeyObject,
): boolean {
  const bytes = Buffer.from(signature, 'base64');
  if (bytes.length !== 64) {
    return false;
  }
  return verify(null, Buffer.from(canonicalJson(statement)), key, bytes);
}
