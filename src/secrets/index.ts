import { backendFor } from './backends/index.js';
import { parseSecretRef, toSecretRef, type SecretRef } from './ref.js';
import { SecretValue } from './value.js';
import type { BackendContext, ReadOptions, SecretBackend, SecretDescription, WriteOptions } from './types.js';

export * from './types.js';
export { parseSecretRef, toSecretRef, KNOWN_SCHEMES, type SecretRef } from './ref.js';
export { SecretValue } from './value.js';
export { LocalStore, EnvBackend, registerBackend, backendFor } from './backends/index.js';
export { ROTATION_TAG, ROTATED_AT_TAG, journalFromTags, journalToTag } from './journal.js';
export { ageInDays } from './time.js';

export interface SecretOptions {
  /** Environment for backends (store locations, credentials); defaults to process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

function ctxOf(o?: SecretOptions): BackendContext {
  return { env: o?.env ?? process.env };
}

/** The backend and parsed ref for a reference string. */
export function openSecret(ref: string | SecretRef, o?: SecretOptions): { ref: SecretRef; backend: SecretBackend } {
  const r = toSecretRef(ref);
  return { ref: r, backend: backendFor(r.scheme, ctxOf(o)) };
}

export async function readSecret(ref: string | SecretRef, opts?: ReadOptions & SecretOptions): Promise<SecretValue> {
  const { ref: r, backend } = openSecret(ref, opts);
  return backend.read(r, opts);
}

export async function writeSecret(
  ref: string | SecretRef,
  value: SecretValue | string,
  opts?: WriteOptions & SecretOptions,
): Promise<{ versionId: string }> {
  const { ref: r, backend } = openSecret(ref, opts);
  return backend.write(r, typeof value === 'string' ? new SecretValue(value) : value, opts);
}

export async function describeSecret(ref: string | SecretRef, o?: SecretOptions): Promise<SecretDescription> {
  const { ref: r, backend } = openSecret(ref, o);
  return backend.describe(r);
}

/** Lists refs in one store. `where` is a scheme (`local`) or a ref prefix (`local:clari/`). */
export async function listSecrets(where = 'local', o?: SecretOptions): Promise<string[]> {
  const scheme = where.includes(':') ? where.slice(0, where.indexOf(':')) : where;
  const prefix = where.includes(':') ? where.slice(where.indexOf(':') + 1).replace(/^\/\//, '') : undefined;
  return backendFor(scheme, ctxOf(o)).list(prefix || undefined);
}

export async function removeSecret(ref: string | SecretRef, o?: SecretOptions): Promise<void> {
  const { ref: r, backend } = openSecret(ref, o);
  await backend.remove(r);
}

/**
 * Reads a secret, creating it with `generate()` when it does not exist yet (used for the
 * pseudonymisation key). Only for writable stores.
 */
export async function readOrCreateSecret(
  ref: string | SecretRef,
  generate: () => string,
  o?: SecretOptions,
): Promise<{ value: SecretValue; created: boolean }> {
  const { ref: r, backend } = openSecret(ref, o);
  try {
    return { value: await backend.read(r), created: false };
  } catch (e) {
    if ((e as { code?: string }).code !== 'secret_not_found') throw e;
    const value = new SecretValue(generate());
    try {
      await backend.write(r, value, { requestToken: `create-once:${r.raw}` });
    } catch (err) {
      // Another process created it first with its own random value: use theirs.
      if ((err as { code?: string }).code !== 'idempotency_conflict') throw err;
      return { value: await backend.read(r), created: false };
    }
    return { value: await backend.read(r), created: true };
  }
}

export { parseSecretRef as parseRef };
