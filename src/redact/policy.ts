import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, configFileError } from '../errors.js';

/**
 * A redaction policy: field rules by path plus what to do with everything else. Paths are written from the
 * document root (`users[].email`, `call.users[].userEmail`), relative to one record (`ownerEmail`, a CSV
 * column name such as `CRM User ID`), or as a suffix anywhere (`**.email`).
 */
const base = {
  path: z.string().min(1),
  /** Collect this field's values as people to find in free text elsewhere in the export. */
  roster: z.boolean().optional(),
  /** Also run free-text detection on the (kept) value. */
  freeText: z.boolean().optional(),
  note: z.string().optional(),
};

export const RuleSchema = z.discriminatedUnion('action', [
  z.strictObject({
    ...base,
    action: z.literal('pseudonymize'),
    /** name -> Person-…, id -> Id-…, phone -> Phone-… (E.164 first), auto -> by the value's look. */
    as: z.enum(['name', 'id', 'text', 'phone', 'auto']).default('id'),
    prefix: z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/).optional(),
  }),
  z.strictObject({ ...base, action: z.literal('pseudonymize-email'), keepDomain: z.boolean().default(false) }),
  z.strictObject({ ...base, action: z.literal('mask'), with: z.string().default('[masked]') }),
  z.strictObject({ ...base, action: z.literal('drop') }),
  z.strictObject({ ...base, action: z.literal('round'), to: z.number().positive().default(1000) }),
  z.strictObject({
    ...base,
    action: z.literal('bucket'),
    buckets: z.array(z.number()).min(1).refine((a) => a.every((v, i) => i === 0 || v > a[i - 1]!), 'bucket bounds must increase'),
  }),
  z.strictObject({ ...base, action: z.literal('keep') }),
]);

export const PolicySchema = z.strictObject({
  version: z.literal(1).default(1),
  name: z.string().optional(),
  description: z.string().optional(),
  /** What happens to fields no rule covers: keep (with free-text detection), drop, or fail the run. */
  unknownFields: z.enum(['keep', 'drop', 'fail']).default('keep'),
  detectors: z
    .strictObject({
      emails: z.boolean().default(true),
      phones: z.boolean().default(true),
      roster: z.boolean().default(true),
      credentials: z.boolean().default(true),
      /** ISO 3166 region for numbers written without a country code. */
      phoneRegion: z.string().length(2).default('US'),
    })
    .prefault({}),
  rules: z.array(RuleSchema).default([]),
});

export type Rule = z.output<typeof RuleSchema>;
export type RuleInput = z.input<typeof RuleSchema>;
export type Policy = z.output<typeof PolicySchema>;
export type PolicyInput = z.input<typeof PolicySchema>;
export type RuleAction = Rule['action'];

export function parsePolicy(input: unknown, source = 'policy'): Policy {
  const r = PolicySchema.safeParse(input);
  if (!r.success) {
    const first = r.error.issues[0]!;
    const where = first.path.length ? first.path.join('.') : '(top level)';
    throw new ConfigError(`${source}: invalid redaction policy at ${where}: ${first.message}`);
  }
  const seen = new Set<string>();
  for (const rule of r.data.rules) {
    if (seen.has(rule.path)) throw new ConfigError(`${source}: two rules for path ${rule.path}`);
    seen.add(rule.path);
  }
  return r.data;
}

/** Loads a YAML (or JSON) policy file. */
export function loadPolicyFile(file: string): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw configFileError(file, e, 'cannot read policy');
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${file}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  return parsePolicy(doc, file);
}
