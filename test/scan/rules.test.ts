import { describe, expect, it } from 'vitest';
import { DEFAULT_RULES, knownTokenRule, shannonEntropy, whyNotCredential } from '../../src/scan/index.js';
import { knownTokenSamples, knownTokenSampleValue } from '../../src/scan/rules/clari-known-token.js';
import type { Rule } from '../../src/scan/types.js';

// gitleaks-style: every rule carries true-positive and false-positive samples; this file runs them all.
function samplesOf(rule: Rule) {
  if (rule.id === 'clari-known-token') return knownTokenSamples;
  return rule.samples!;
}

const RULES: Rule[] = [knownTokenRule([knownTokenSampleValue]), ...DEFAULT_RULES];

describe.each(RULES.map((r) => [r.id, r] as const))('rule %s', (_id, rule) => {
  const samples = samplesOf(rule);

  it('has metadata and samples', () => {
    expect(rule.id).toMatch(/^[a-z0-9-]+$/);
    expect(rule.description.length).toBeGreaterThan(10);
    expect(['high', 'medium', 'low']).toContain(rule.severity);
    expect(rule.keywords.length).toBeGreaterThan(0);
    expect(samples.truePositives.length).toBeGreaterThan(0);
    expect(samples.falsePositives.length).toBeGreaterThan(0);
  });

  it.each(samples.truePositives.map((s, i) => [i, s.file, s] as const))('true positive #%i (%s) is found', (_i, _f, s) => {
    const matches = rule.detect(s);
    expect(matches.length, JSON.stringify(s.text)).toBeGreaterThan(0);
    // The keyword pre-filter must let every true positive through.
    const lower = s.text.toLowerCase();
    expect(rule.keywords.some((k) => lower.includes(k.toLowerCase()))).toBe(true);
    for (const m of matches) expect(m.end).toBeGreaterThan(m.start);
  });

  it.each(samples.falsePositives.map((s, i) => [i, s.file, s] as const))('false positive #%i (%s) is not found', (_i, _f, s) => {
    const found = rule.detect(s).map((m) => s.text.slice(m.start, m.end));
    expect(found, JSON.stringify(s.text)).toEqual([]);
  });
});

describe('credential heuristics', () => {
  it('entropy separates random tokens from words', () => {
    expect(shannonEntropy('aaaaaaaa')).toBe(0);
    expect(shannonEntropy('q7Rv2Lx9Kp4Wm8Zt3Nb6Yc1Hd5Fj0Gs')).toBeGreaterThan(4.5); // clariguard:allow
    expect(shannonEntropy('clari-clari-token')).toBeLessThan(3.5);
  });

  it.each([
    ['YOUR_CLARI_API_TOKEN_HERE', 'a placeholder'],
    ['${CLARI_API_KEY}', 'a template or interpolation'],
    ['<token-goes-here-please>', 'a template or interpolation'],
    ['process.env.CLARI_API_KEY', 'a lookup'],
    ['xxxxxxxxxxxxxxxxxxxxxxxx', 'a placeholder'],
    ['changeme-changeme-0001', 'a placeholder'],
    ['local:clari/prod/api-token', 'a secret reference'],
    ['aws-sm://prod/clari?region=eu-west-1', 'a secret reference'],
    ['abcdef0123456789abcdef00', 'an example sequence'],
    ['https://api.clari.com/v4/x1', 'a URL'],
    ['clari-prod-api-token', 'a single character class'],
  ])('%s is not a credential (%s)', (v, why) => {
    expect(whyNotCredential(v)).toBe(why);
  });

  it('random tokens of many shapes are credentials', () => {
    for (const v of ['q7Rv2Lx9Kp4Wm8Zt3Nb6Yc1Hd5Fj0Gs', 'a91f3c77e2b54d08b6e1f4a2c9d3e7b5', '3f1c9a7e-52b4-4d08-b6e1-f4a2c9d3e7b5']) { // clariguard:allow
      expect(whyNotCredential(v)).toBeNull();
    }
  });
});
