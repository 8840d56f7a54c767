import type { SecretRef } from '../ref.js';
import type { SecretDescription, VersionInfo } from '../types.js';
import { ageInDays } from '../time.js';
import { journalFromTags } from '../journal.js';
/** Small helpers shared by the team-store backends (aws-sm, vault, gcp-sm, azure-kv, op, dotenv). */

/** The latest of several ISO/Date values (nulls ignored), as ISO-8601, or null. */
export function latestIso(...dates: (string | Date | null | undefined)[]): string | null {
  let best: number | null = null;
  for (const d of dates) {
    if (d === null || d === undefined) continue;
    const t = d instanceof Date ? d.getTime() : Date.parse(d);
    if (!Number.isNaN(t) && (best === null || t > best)) best = t;
  }
  return best === null ? null : new Date(best).toISOString();
}

export function isoOrNull(d: string | Date | number | null | undefined): string | null {
  if (d === null || d === undefined || d === '') return null;
  const t = d instanceof Date ? d.getTime() : typeof d === 'number' ? d : Date.parse(d);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

/**
 * A store-supplied message made safe for a one-line error: printable ASCII, no URLs with userinfo or query
 * strings (they can carry tokens), bounded length. The CLI also masks every known secret value.
 */
export function safeDetail(msg: string | undefined, max = 160): string {
  if (!msg) return '';
  return msg
    .replace(/[^\x20-\x7e]+/g, ' ')
    .replace(/\b(https?:\/\/)[^\s/@]+@/g, '$1')
    .replace(/(https?:\/\/[^\s?#]+)[?#]\S*/g, '$1')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, max);
}

/** The errno-style code of a network failure (ECONNREFUSED, ENOTFOUND, ETIMEDOUT…), if any. */
export function networkCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Accepts only http(s) URLs and returns origin + path without userinfo, for error messages. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return 'the configured address';
  }
}

type StageName = 'current' | 'pending' | 'previous';

/**
 * Stage -> version for stores with numbered versions (Vault KV v2, Google Secret Manager), given the map
 * clariguard recorded and the live version numbers. A secret written only by other tools has its newest
 * version current; a version newer than the recorded current that is not the pending one was written by
 * another tool after us, so it is current (it is what every other client reads as "latest").
 */
export function reconcileStages(recorded: Partial<Record<StageName, number>>, live: number[]): Partial<Record<StageName, number>> {
  const isLive = (v: number | undefined): v is number => v !== undefined && Number.isInteger(v) && live.includes(v);
  let { current, previous } = recorded;
  const { pending } = recorded;
  const newest = [...live].sort((a, b) => b - a)[0];
  // The recorded previous version is newer than current after a rollback; it is ours, not another client's.
  if (newest !== undefined && (!isLive(current) || (newest > current && newest !== pending && newest !== previous))) {
    if (isLive(current)) previous = current;
    current = newest === pending && !isLive(current) ? [...live].sort((a, b) => b - a).find((v) => v !== pending) : newest;
  }
  const out: Partial<Record<StageName, number>> = {};
  if (isLive(current)) out.current = current;
  if (isLive(pending) && pending !== current) out.pending = pending;
  if (isLive(previous) && previous !== current) out.previous = previous;
  return out;
}

/** The `describe()` answer every versioned store gives: age and rotation journal derived the same way. */
export function descriptionOf(
  ref: SecretRef,
  backend: string,
  versions: VersionInfo[],
  rotatedAt: string | null,
  tags: Record<string, string>,
): SecretDescription {
  return { ref: ref.raw, backend, versions, rotatedAt, ageDays: rotatedAt ? ageInDays(rotatedAt) : null, tags, rotation: journalFromTags(tags) };
}
