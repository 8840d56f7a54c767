import { createHash } from 'node:crypto';
import { findEmails, findPhoneNumbers, normalizeForPseudonym, Roster } from '../redact/index.js';
import { REDACTED_EMAIL_DOMAIN } from '../redact/pseudonym.js';
import type { RosterMember } from './config.js';
import { maskEmail, maskName } from './mask.js';

/** Shortest hex run tried against the digest table: 40 bits keeps chance matches negligible. */
export const MIN_DIGEST_PREFIX = 10;

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** The strings a careless pipeline hashes for a person: raw, trimmed, case-folded, whitespace-normalised, kind-prefixed. */
export function hashVariants(m: Pick<RosterMember, 'name' | 'email'>): string[] {
  const out = new Set<string>();
  const add = (v: string, kind: string) => {
    if (!v.trim()) return;
    const norm = normalizeForPseudonym(v);
    for (const x of [v, v.trim(), v.trim().toLowerCase(), v.trim().toUpperCase(), norm, norm.replace(/ /g, ''), `${kind}:${norm}`]) out.add(x);
  };
  add(m.name, 'name');
  add(m.email, 'email');
  if (m.name.includes(' ')) add(m.name.trim().split(/\s+/).reverse().join(' '), 'name');
  return [...out];
}

export interface DigestMatch {
  /** Masked identity of the roster member the digest reverses to. */
  who: string;
  digest: string;
}

/**
 * Reverses unkeyed SHA-256 digests (full or truncated, any case) of roster names and emails: a dictionary of
 * every roster variant, indexed by its first MIN_DIGEST_PREFIX hex characters.
 */
export class DigestReverser {
  private readonly byPrefix = new Map<string, { digest: string; who: string }[]>();
  constructor(roster: readonly RosterMember[]) {
    for (const m of roster) {
      const who = m.email ? maskEmail(m.email) : maskName(m.name);
      for (const v of hashVariants(m)) {
        const digest = sha256(v);
        const key = digest.slice(0, MIN_DIGEST_PREFIX);
        const list = this.byPrefix.get(key) ?? [];
        list.push({ digest, who });
        this.byPrefix.set(key, list);
      }
    }
  }
  get size(): number {
    return this.byPrefix.size;
  }
  /** Every hex run in `text` (at least MIN_DIGEST_PREFIX long) that is a prefix of a roster digest. */
  find(text: string): DigestMatch[] {
    if (!this.byPrefix.size || text.length < MIN_DIGEST_PREFIX) return [];
    const out: DigestMatch[] = [];
    for (const m of text.matchAll(/(?<![0-9a-fA-F])[0-9a-fA-F]{10,64}(?![0-9a-fA-F])/g)) {
      const run = m[0].toLowerCase();
      const cands = this.byPrefix.get(run.slice(0, MIN_DIGEST_PREFIX));
      const hit = cands?.find((c) => c.digest.startsWith(run));
      if (hit) out.push({ who: hit.who, digest: run });
    }
    return out;
  }
}

// RFC 2606/6761 names and clariguard's own pseudonyms are not anyone's address.
const NON_PII_DOMAIN = /(^|\.)(invalid|test|example|localhost|example\.(com|org|net))$/i;
const PSEUDONYM_LOCAL = /^[0-9a-f]{20}-k[0-9a-f]{6}$/;

export function isRealEmail(email: string): boolean {
  const at = email.lastIndexOf('@');
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (domain.toLowerCase() === REDACTED_EMAIL_DOMAIN || NON_PII_DOMAIN.test(domain)) return false;
  return !PSEUDONYM_LOCAL.test(local.toLowerCase());
}

export interface ValueFindings {
  emails: string[];
  phones: string[];
  names: string[];
  digests: DigestMatch[];
}

/** PII detection on one sampled value; every example returned is already masked. */
export class PiiSampler {
  private readonly names = new Roster();
  private readonly reverser: DigestReverser;
  constructor(roster: readonly RosterMember[] | null) {
    for (const m of roster ?? []) if (m.name) this.names.add(m.name, '');
    this.reverser = new DigestReverser(roster ?? []);
  }
  inspect(value: string): ValueFindings {
    const emailSpans = findEmails(value);
    // A name inside an address is the address's finding, not a second one.
    let rest = value;
    for (const s of emailSpans) rest = rest.slice(0, s.start) + ' '.repeat(s.end - s.start) + rest.slice(s.end);
    return {
      emails: emailSpans.map((s) => s.value).filter(isRealEmail).map(maskEmail),
      phones: findPhoneNumbers(value).map((s) => maskPhone(s.normalized ?? s.value)),
      names: this.names.find(rest).map((s) => maskName(s.value)),
      digests: this.reverser.find(value),
    };
  }
}

export function maskPhone(phone: string): string {
  const digits = phone.replace(/[^\d+]/g, '');
  return digits.length > 4 ? `${digits.slice(0, 2)}***${digits.slice(-2)}` : '***';
}
