import { createHmac } from 'node:crypto';

/**
 * Keyed pseudonyms: HMAC-SHA-256(key, `${kind}:${normalised value}`), hex, truncated to 20 characters
 * (80 bits: collision-free for any realistic roster, irreversible without the key), followed by the key id
 * so pseudonyms from different keys are never confused and keys can rotate.
 *
 *   name   "Ana Silva"          -> Person-3f9a1c2b7d8e0a4f5b6c-k9d21f0
 *   email  "ana@acme.com"       -> 8e0a4f5b6c3f9a1c2b7d-k9d21f0@redacted.invalid
 *   id     "0055g00000A1b2C"    -> Id-1c2b7d8e0a4f5b6c3f9a-k9d21f0
 *
 * The exact byte recipe is part of the public contract: `clariguard warehouse sql` reproduces it in SQL,
 * so it must not change without a new key id scheme. docs/pseudonyms.md documents it.
 */
export type PseudonymKind = 'name' | 'email' | 'id' | 'text';

export const DIGEST_HEX_CHARS = 20;
export const KEY_ID_HEX_CHARS = 6;
export const REDACTED_EMAIL_DOMAIN = 'redacted.invalid';

/** Normalisation shared with the SQL dialects: trim, collapse whitespace runs to one space, lower-case. */
export function normalizeForPseudonym(value: string): string {
  return value.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** Key id: first hex characters of HMAC(key, "clariguard/key-id"). Reveals nothing about the key. */
export function keyIdOf(key: Buffer): string {
  return `k${createHmac('sha256', key).update('clariguard/key-id').digest('hex').slice(0, KEY_ID_HEX_CHARS)}`;
}

export function pseudonymDigest(key: Buffer, kind: PseudonymKind, value: string): string {
  return createHmac('sha256', key).update(`${kind}:${normalizeForPseudonym(value)}`).digest('hex').slice(0, DIGEST_HEX_CHARS);
}

export interface Pseudonymizer {
  readonly keyId: string;
  /** `Person-<digest>-<keyid>` (prefix configurable). */
  name(value: string, prefix?: string): string;
  /** `<digest>-<keyid>@redacted.invalid`, or `@<original domain>` when keepDomain. */
  email(value: string, keepDomain?: boolean): string;
  /** `Id-<digest>-<keyid>`. */
  id(value: string, prefix?: string): string;
  digest(kind: PseudonymKind, value: string): string;
}

/** A pseudonymizer bound to one key, with a small cache: exports repeat the same people constantly. */
export function createPseudonymizer(key: Buffer, cacheLimit = 100_000): Pseudonymizer {
  if (key.length < 16) throw new Error('pseudonymisation key must be at least 16 bytes');
  const keyId = keyIdOf(key);
  const cache = new Map<string, string>();
  const digest = (kind: PseudonymKind, value: string): string => {
    const ck = `${kind}\u0000${value}`;
    let d = cache.get(ck);
    if (d === undefined) {
      d = pseudonymDigest(key, kind, value);
      if (cache.size >= cacheLimit) cache.clear();
      cache.set(ck, d);
    }
    return d;
  };
  return {
    keyId,
    digest,
    name: (value, prefix = 'Person') => `${prefix}-${digest('name', value)}-${keyId}`,
    id: (value, prefix = 'Id') => `${prefix}-${digest('id', value)}-${keyId}`,
    email: (value, keepDomain = false) => {
      const at = value.lastIndexOf('@');
      const domain = keepDomain && at > 0 ? value.slice(at + 1).trim().toLowerCase() : REDACTED_EMAIL_DOMAIN;
      return `${digest('email', value)}-${keyId}@${domain}`;
    },
  };
}
