import { readFileSync } from 'node:fs';
import { ConfigError, configFileError } from '../../errors.js';
import { shannonEntropy, whyNotCredential } from '../heuristics.js';
import type { Rule, RuleMatch, ScanChunk } from '../types.js';
import { clariApiToken } from './clari-api-token.js';
import { signedDownloadUrl } from './signed-download-url.js';
import { awsAccessKey } from './aws-access-key.js';
import { genericSecret } from './generic-secret.js';

export { knownTokenRule } from './clari-known-token.js';

/**
 * The built-in rules, in priority order: when two findings overlap on one line, the earlier rule's wins
 * (clari-known-token, built per scan, comes before all of them).
 */
export const DEFAULT_RULES: readonly Rule[] = [clariApiToken, signedDownloadUrl, awsAccessKey, genericSecret];

// yaml and zod load only when a rules file is given: a plain scan (the pre-commit hook) starts faster.
async function rulesFileSchema() {
  const { z } = await import('zod');
  const RuleSpec = z.object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'ids are lower-case letters, digits, ".", "_" and "-"'),
    description: z.string().min(1),
    severity: z.enum(['high', 'medium', 'low']).default('medium'),
    keywords: z.array(z.string().min(1)).default([]),
    /** A JavaScript regular expression. The secret is the named group `secret`, else group 1, else the match. */
    pattern: z.string().min(1),
    /** Extra flags, e.g. "i". */
    flags: z.string().regex(/^[imsu]*$/).default(''),
    /** Minimum Shannon entropy of the secret. */
    entropy: z.number().min(0).max(8).optional(),
    /** Drop matches whose secret is a placeholder, reference or template (default true). */
    skipPlaceholders: z.boolean().default(true),
    /** Regexes: a secret matching one of them is not a finding. */
    allow: z.array(z.string()).default([]),
  });
  const RulesFile = z.object({ rules: z.array(RuleSpec).min(1) });
  return RulesFile;
}

function compile(file: string, source: string, flags: string, where: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (e) {
    throw new ConfigError(`${file}: ${where}: invalid regular expression: ${(e as Error).message}`);
  }
}

/** Loads extra rules from a YAML or JSON file: `rules: [{id, description, severity, keywords, pattern, ...}]`. */
export async function loadRulesFile(file: string): Promise<Rule[]> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw configFileError(file, e, 'cannot read rules file');
  }
  const { parse: parseYaml } = await import('yaml');
  const RulesFile = await rulesFileSchema();
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    const pos = (e as { linePos?: { line: number; col: number }[] }).linePos?.[0];
    throw new ConfigError(`${file}${pos ? ` (line ${pos.line}, column ${pos.col})` : ''}: not valid YAML/JSON`, e);
  }
  const parsed = RulesFile.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const seen = new Set<string>();
  return parsed.data.rules.map((spec, i) => {
    if (seen.has(spec.id)) throw new ConfigError(`${file}: rules.${i}.id: duplicate rule id ${spec.id}`);
    seen.add(spec.id);
    const flags = [...new Set(`g${spec.flags}`)].join('');
    const re = compile(file, spec.pattern, flags, `rules.${i}.pattern`);
    const allow = spec.allow.map((a, j) => compile(file, a, '', `rules.${i}.allow.${j}`));
    const detect = (chunk: ScanChunk): RuleMatch[] => {
      const out: RuleMatch[] = [];
      re.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = re.exec(chunk.text)) !== null) {
        if (m[0].length === 0) {
          re.lastIndex++;
          continue;
        }
        const secret = m.groups?.secret ?? m[1] ?? m[0];
        if (!secret) continue;
        const rel = m[0].indexOf(secret);
        const start = m.index + Math.max(0, rel);
        if (spec.entropy !== undefined && shannonEntropy(secret) < spec.entropy) continue;
        if (spec.skipPlaceholders) {
          const why = whyNotCredential(secret, { minLength: 1, minEntropy: 0 });
          if (why && !['a single character class', 'no digits', 'words'].includes(why)) continue;
        }
        if (allow.some((a) => a.test(secret))) continue;
        out.push({ start, end: start + secret.length });
      }
      return out;
    };
    return {
      id: spec.id,
      description: spec.description,
      severity: spec.severity,
      keywords: spec.keywords,
      pattern: spec.pattern,
      detect,
    } satisfies Rule;
  });
}
