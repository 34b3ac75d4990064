import { createHash, randomBytes } from 'node:crypto';

const ALPHABET =
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Length of the random part of a token (as Hugging Face tokens: 34). */
const SECRET_LENGTH = 34;

/** Characters of a token kept in clear, to recognise it in a list. */
export const TOKEN_PREFIX_LENGTH = 7;

/** A new personal access token: `hf_` and 34 base62 characters. @internal */
export function generateToken(): string {
  // rejection sampling keeps the characters uniform
  let secret = '';
  while (secret.length < SECRET_LENGTH) {
    for (const byte of randomBytes(64)) {
      if (byte < 248 && secret.length < SECRET_LENGTH) {
        secret += ALPHABET[byte % 62];
      }
    }
  }
  return `hf_${secret}`;
}

/** The stored form of a token: the hex SHA-256 of the whole token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Whether a bearer token has the shape of a personal access token. */
export function looksLikePersonalToken(token: string): boolean {
  return /^hf_[A-Za-z0-9]{20,100}$/.test(token);
}
