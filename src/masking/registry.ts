import { PatternSet } from './masker.js';

/**
 * Process-wide set of secret values this process has handled. The logger, the CLI's error printer and
 * `run` mask every one of them (in all encoded forms) before anything reaches a terminal or a file.
 */
const known = new Set<string>();
let cached: PatternSet | undefined;

/** Values shorter than this are not registered: masking "ab" everywhere would garble output. */
const MIN_SECRET_LENGTH = 4;

export function registerSecretValue(value: string): void {
  if (value.length < MIN_SECRET_LENGTH || known.has(value)) return;
  known.add(value);
  cached = undefined;
}

export function knownSecretPatterns(): PatternSet {
  cached ??= PatternSet.forSecrets(known);
  return cached;
}

/** Masks every known secret in a message. */
export function maskKnownSecrets(text: string): string {
  if (known.size === 0) return text;
  return knownSecretPatterns().maskString(text);
}

/** For tests only. */
export function clearKnownSecrets(): void {
  known.clear();
  cached = undefined;
}
