import { createHash, createHmac } from 'node:crypto';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ConfigError, configFileError } from '../errors.js';
import { writeFileAtomicSync } from '../util/atomic.js';
import type { Finding } from './types.js';

/**
 * Fingerprints are HMAC-SHA-256(key, ruleId NUL file NUL secret), hex, 40 characters. Never the secret,
 * never a bare hash of it (which anyone could test a guessed token against across every repository).
 *
 * The key: `CLARIGUARD_SCAN_KEY` when set (keep it in your CI secret store: then nobody without the key
 * can confirm a guessed value from a baseline); otherwise derived per repository from its root commit(s),
 * so every clone and CI job computes the same fingerprints with no setup, and fingerprints of one
 * repository cannot be correlated with another's. docs/scanning.md explains the trade-off.
 */
export interface ScanKey {
  key: Buffer;
  /** `k` + 6 hex characters of HMAC(key, "clariguard/scan-key-id"): tells keys apart, reveals nothing. */
  keyId: string;
  source: 'env' | 'repository' | 'default';
}

const DERIVE_LABEL = 'clariguard/scan-fingerprint/v1';

function rootsOf(stdout: string): string | null {
  const roots = stdout.split('\n').filter(Boolean).sort();
  return roots.length ? roots.join(',') : null;
}

export function repositoryIdentity(repoRoot: string | null): string | null {
  if (!repoRoot) return null;
  const r = spawnSync('git', ['rev-list', '--max-parents=0', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' });
  if (r.status !== 0) return null;
  return rootsOf(r.stdout);
}

/** repositoryIdentity() without blocking, so it can run alongside the other git calls a scan starts. */
export function repositoryIdentityAsync(dir: string): Promise<string | null> {
  return new Promise((resolveP) => {
    execFile('git', ['rev-list', '--max-parents=0', 'HEAD'], { cwd: dir, encoding: 'utf8' }, (err, stdout) => resolveP(err ? null : rootsOf(stdout)));
  });
}

export function scanKeyFor(repoRoot: string | null, env: Readonly<Record<string, string | undefined>>): ScanKey {
  return scanKeyFrom(env.CLARIGUARD_SCAN_KEY ? null : repositoryIdentity(repoRoot), env);
}

/** The scan key from CLARIGUARD_SCAN_KEY, else from the repository identity (root commits) when there is one. */
export function scanKeyFrom(identity: string | null, env: Readonly<Record<string, string | undefined>>): ScanKey {
  let key: Buffer;
  let source: ScanKey['source'];
  const fromEnv = env.CLARIGUARD_SCAN_KEY;
  if (fromEnv) {
    if (fromEnv.length < 16) throw new ConfigError('CLARIGUARD_SCAN_KEY must be at least 16 characters');
    key = createHash('sha256').update(fromEnv, 'utf8').digest();
    source = 'env';
  } else {
    key = createHmac('sha256', DERIVE_LABEL).update(identity ?? 'no-repository').digest();
    source = identity ? 'repository' : 'default';
  }
  const keyId = `k${createHmac('sha256', key).update('clariguard/scan-key-id').digest('hex').slice(0, 6)}`;
  return { key, keyId, source };
}

export function fingerprintOf(key: Buffer, ruleId: string, file: string, secret: string): string {
  return createHmac('sha256', key).update(`${ruleId}\u0000${file}\u0000${secret}`, 'utf8').digest('hex').slice(0, 40);
}

export const BASELINE_FORMAT = 'clariguard-scan-baseline/1';

/**
 * Reads a baseline: either our own format `{format, keyId, fingerprints: [...]}` or a saved
 * `clariguard scan --format json` report (its findings' fingerprints).
 */
export function loadBaseline(file: string, keyId: string): Set<string> {
  return checkBaseline(readBaseline(file), keyId);
}

/** A baseline file read and validated, before the scan key is known (see checkBaseline). */
export interface ParsedBaseline {
  file: string;
  /** The key id it was written with; null for a saved JSON report (which does not record it). */
  keyId: string | null;
  fingerprints: Set<string>;
}

/** The fingerprints of a baseline written with `keyId` (or of a saved report); a ConfigError for another key. */
export function checkBaseline(b: ParsedBaseline, keyId: string): Set<string> {
  if (b.keyId !== null && b.keyId !== keyId) {
    throw new ConfigError(
      `${b.file}: baseline was written with scan key ${b.keyId} but this scan uses ${keyId} (set the same CLARIGUARD_SCAN_KEY, or regenerate with --write-baseline)`,
    );
  }
  return b.fingerprints;
}

/** Reads a baseline file (either form loadBaseline() takes); every error but a key mismatch is raised here. */
export function readBaseline(file: string): ParsedBaseline {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw configFileError(file, e, 'cannot read baseline');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    // V8 quotes the text around the error ("TOKEN=q7Rv"...): a .env passed by mistake would show part of a secret.
    const at = /at position (\d+)/.exec((e as Error).message)?.[1];
    throw new ConfigError(`${file}: baseline is not valid JSON${at !== undefined ? ` (character ${at})` : ''}`);
  }
  const d = doc as { format?: unknown; keyId?: unknown; fingerprints?: unknown; findings?: unknown };
  const isHex = (x: unknown): x is string => typeof x === 'string' && /^[0-9a-f]{40}$/.test(x);
  if (d && d.format === BASELINE_FORMAT && Array.isArray(d.fingerprints)) {
    const bad = d.fingerprints.findIndex((f) => !isHex(f));
    if (bad >= 0) throw new ConfigError(`${file}: fingerprints.${bad} is not a 40-character hex fingerprint`);
    return { file, keyId: String(d.keyId), fingerprints: new Set(d.fingerprints as string[]) };
  }
  if (d && Array.isArray(d.findings)) {
    const fps = (d.findings as { fingerprint?: unknown }[]).map((f) => f?.fingerprint);
    const bad = fps.findIndex((f) => !isHex(f));
    if (bad >= 0) throw new ConfigError(`${file}: findings.${bad}.fingerprint is not a 40-character hex fingerprint`);
    return { file, keyId: null, fingerprints: new Set(fps as string[]) };
  }
  throw new ConfigError(`${file}: not a clariguard baseline (expected {"format":"${BASELINE_FORMAT}",...} or a scan --format json report)`);
}

/** Writes the fingerprints of `findings` as a baseline, atomically. */
export function writeBaseline(file: string, keyId: string, findings: Finding[]): number {
  const fingerprints = [...new Set(findings.map((f) => f.fingerprint))].sort();
  writeFileAtomicSync(file, `${JSON.stringify({ format: BASELINE_FORMAT, keyId, fingerprints }, null, 2)}\n`, 0o644);
  return fingerprints.length;
}
