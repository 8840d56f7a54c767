import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Detector } from '../../src/scan/engine.js';
import { forEachAssignment, forEachAssignmentOf } from '../../src/scan/heuristics.js';
import { mayHoldFormat, mayHoldFormatByRegex } from '../../src/scan/rules/generic-secret.js';
import type { Rule, SkippedCounts } from '../../src/scan/types.js';

const SKIPPED: SkippedCounts = { binary: 0, tooLarge: 0, excludedDir: 0, gitignored: 0, notRegular: 0, allowed: 0, baselined: 0 };

// The speed paths must never change what is found: each is compared here with the plain path it replaces,
// on generated text built from the pieces that matter (credential words glued by name characters,
// separators, quotes, values, Clari context).

const WORDS = ['key', 'Token', 'SECRET', 'passwd', 'password', 'pwd', 'credential', 'auth', 'passphrase', 'api', 'apikey', 'API_KEY', 'access', 'private', 'signing', 'master', 'clari', 'Clari', 'partner', 'monkey', 'x', 'id', 'url', 'env'];
const GLUE = ['', '_', '.', '-', '$', '--', '9'];
const SEPS = ['=', ' = ', ': ', ':', ':=', '=>', ' <- ', '+=', '==', '::', ', ', ' ', '\t', '"]: ', '\\": \\"', ': string = ', '(', '\n'];
const VALUES = ['q7Rv2Lx9Kp4Wm8Zt3Nb6Yc1Hd5Fj0Gs', '"a91f3c77e2b54d08b6e1f4a2c9d3e7b5"', "'Zk3mQ8vR1tX6wL9pB2nY5cJ7hD4fG0sA'", 'process.env.X', 'Bearer q7Rv2Lx9Kp4Wm8Zt3Nb6', '${X}', '"unterminated', '', 'short1'];

const name = fc.array(fc.tuple(fc.constantFrom(...GLUE), fc.constantFrom(...WORDS)), { minLength: 1, maxLength: 4 }).map((parts) => parts.map(([g, w]) => g + w).join(''));
const piece = fc.oneof(
  fc.tuple(name, fc.constantFrom(...SEPS), fc.constantFrom(...VALUES)).map(([n, s, v]) => n + s + v),
  fc.constantFrom(' ', '\n', '("', '"', ' api.clari.com ', '-H "', '# ', 'export '),
);
const text = fc.array(piece, { maxLength: 12 }).map((p) => p.join(''));

function collect(run: (cb: (name: string, at: number, v: { start: number; end: number; quoted: boolean }) => void) => void): string[] {
  const out: string[] = [];
  run((n, at, v) => out.push(`${n}@${at}:${v.start}-${v.end}${v.quoted ? 'q' : ''}`));
  return out;
}

describe('shared assignment pass', () => {
  const RULE_NAME_RES = [
    /key|token|secret|passw(?:or)?d|pwd|credential|auth/i, // clari-api-token
    /secret|passw(?:or)?d|pwd|token|api[_.-]?key|apikey|access[_.-]?key|private[_.-]?key|signing[_.-]?key|encryption[_.-]?key|master[_.-]?key|credential|passphrase|auth[_.-]?(?:token|key)/i, // generic-secret
  ];

  it('visits exactly the assignments each rule finds with a pass of its own', () => {
    fc.assert(
      fc.property(text, (t) => {
        for (const re of RULE_NAME_RES) {
          const own = collect((cb) => forEachAssignment(t, new RegExp(re.source, 'gi'), cb));
          const shared = collect((cb) => forEachAssignmentOf({ text: t }, re, cb));
          expect(shared).toEqual(own);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('handles names a rule matches only across a dot (xauth.key, token_api.key)', () => {
    for (const t of ['xauth.key = "q7Rv2Lx9Kp4Wm8Zt3Nb6Yc1Hd5Fj0Gs"', 'token_api.key = "q7Rv2Lx9Kp4Wm8Zt3Nb6Yc1Hd5Fj0Gs"', 'secret-monkey = "q7Rv2Lx9Kp4Wm8Zt3Nb6Yc1Hd5Fj0Gs"']) { // clariguard:allow
      for (const re of RULE_NAME_RES) {
        expect(collect((cb) => forEachAssignmentOf({ text: t }, re, cb))).toEqual(collect((cb) => forEachAssignment(t, new RegExp(re.source, 'gi'), cb)));
      }
    }
  });
});

describe('keyword pre-filter (one pass for all rules)', () => {
  const KEYWORDS = ['clari', 'clari.com', 'com', 'key', 'apikey', 'sig=', 'signature=', 'akia', 'ä', 'Ünï', 'x.y', 'a|b', '(', 'token'];
  const rule = (id: string, keywords: string[]): Rule => ({ id, description: id, severity: 'low', keywords, pattern: id, detect: () => [] });
  const rules = fc.array(fc.array(fc.constantFrom(...KEYWORDS), { maxLength: 4 }), { minLength: 1, maxLength: 6 });
  const body = fc
    .array(fc.oneof(fc.constantFrom(...KEYWORDS, 'CLARI.COM', 'ApiKey', 'AKIA', 'Ä', ' ', '\n', 'cla', 'ri'), fc.string({ maxLength: 4 })), { maxLength: 20 })
    .map((p) => p.join(''));

  it('marks exactly the rules whose keywords occur', () => {
    fc.assert(
      fc.property(rules, body, (kws, t) => {
        const d = new Detector(kws.map((k, i) => rule(`r${i}`, k)), { ...SKIPPED });
        const bytes = Buffer.from(t, 'utf8');
        expect(d.activeRules(bytes)).toEqual(d.activeRulesPerRule(bytes));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('generic-secret format gate', () => {
  const PIECES = ['gh', 'ghp_', 'gho_', 'ghx_', 'g', 'h', 'p', '_', 'ops_ey', 'ops_', 'ey', 'github_pat_', 'github_', 'pat_', 'hvs.', 'hvb.', 'hv', 'hvx.', 'xo', 'xox', 'x', 'AIza', 'AIz', 'PRIVATE KEY', 'AGE-SECRET-KEY-1', 'AccountKey=', 'postgres://', 'redis://', '://', ' ', '\n', '.', 's', 'b'];
  it('lets through exactly what the one-regex gate lets through', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...PIECES), fc.string({ maxLength: 3 })), { maxLength: 12 }), (parts) => {
        const t = parts.join('');
        expect(mayHoldFormat(t)).toBe(mayHoldFormatByRegex(t));
      }),
      { numRuns: 5000 },
    );
  });
});
