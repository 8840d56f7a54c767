import { secretVariants } from '../../masking/variants.js';
import { exactLinePattern } from '../prefilter.js';
import type { Rule, RuleMatch, ScanChunk } from '../types.js';

/** Shorter encoded fragments could occur by chance; the raw value itself is always searched. */
const MIN_VARIANT = 8;

/**
 * Exact matches of real secret values (read from the secret store with `--known REF`), raw and in every
 * encoded form the masker knows (base64 at each alignment, base64url, URL-encoded, hex). No false
 * positives by construction, so inline allows and baselines do not apply.
 */
export function knownTokenRule(values: string[]): Rule {
  const needles = new Set<string>();
  for (const v of values) {
    if (!v) continue;
    needles.add(v);
    for (const f of secretVariants(v)) if (f.length >= MIN_VARIANT) needles.add(f);
  }
  // Longest first, so the widest form wins when forms overlap (the engine drops overlaps).
  const list = [...needles].sort((a, b) => b.length - a.length);
  function detect(chunk: ScanChunk): RuleMatch[] {
    const out: RuleMatch[] = [];
    for (const n of list) {
      let i = chunk.text.indexOf(n);
      while (i >= 0) {
        out.push({ start: i, end: i + n.length });
        i = chunk.text.indexOf(n, i + n.length);
      }
    }
    return out;
  }
  return {
    id: 'clari-known-token',
    description: 'A real secret value from the secret store (--known), raw or base64/base64url/URL/hex encoded',
    severity: 'high',
    keywords: list,
    // Exact bytes (case-sensitive, as detect() compares); null (no piece git can match) leaves the keywords.
    linePatterns: linePatternsOf(list),
    pattern: 'exact match of the values named with --known and their encoded forms',
    unsuppressible: true,
    detect,
  };
}

function linePatternsOf(needles: string[]): string[] | undefined {
  const out: string[] = [];
  for (const n of needles) {
    const p = exactLinePattern(n);
    if (p === null) return undefined;
    out.push(p);
  }
  return out;
}

/** Samples for the per-rule test: the rule is built from a value at test time. */
export const knownTokenSampleValue = 'kN0wn-Cl4ri+T0ken/Sample=Value_2026'; // clariguard:allow
export const knownTokenSamples = {
  truePositives: [
    { file: '.env', text: `CLARI_API_KEY=${knownTokenSampleValue}\n` },
    { file: 'auth.txt', text: `Authorization: Basic ${Buffer.from(`user:${knownTokenSampleValue}`).toString('base64')}\n` },
    { file: 'log.txt', text: `GET /x?key=${encodeURIComponent(knownTokenSampleValue)}\n` },
    { file: 'dump.hex', text: `${Buffer.from(knownTokenSampleValue).toString('hex')}\n` },
    { file: 'b64url.txt', text: `${Buffer.from(knownTokenSampleValue).toString('base64url')}\n` },
  ],
  falsePositives: [
    { file: '.env', text: 'CLARI_API_KEY=kN0wn-Cl4ri+T0ken/Sample=Valu\n' },
    { file: 'notes.md', text: 'the token starts with kN0w and is stored in local:clari/prod/api-token\n' },
  ],
};
