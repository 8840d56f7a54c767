import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { PolicySchema, parsePolicy, presetPolicy, PRESET_NAMES } from '../../src/redact/index.js';

const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', 'redaction-policy.schema.json'), 'utf8'));

describe('redaction policy schema', () => {
  it('is the zod schema, exported (no drift)', () => {
    const fresh = z.toJSONSchema(PolicySchema, { io: 'input' }) as Record<string, unknown>;
    const { $id: _id, title: _t, description: _d, ...rest } = schema;
    expect(rest).toEqual(fresh);
  });

  it('accepts the documented example and every preset; rejects unknown actions and keys', () => {
    const validate = new Ajv2020({ strict: false }).compile(schema);
    const doc = readFileSync(join(ROOT, 'docs', 'redaction.md'), 'utf8');
    const example = /```yaml\n([\s\S]*?)```/.exec(doc)![1]!;
    const policy = parseYaml(example);
    expect(validate(policy), JSON.stringify(validate.errors)).toBe(true);
    expect(() => parsePolicy(policy)).not.toThrow();
    for (const p of PRESET_NAMES) expect(validate(JSON.parse(JSON.stringify(presetPolicy(p))))).toBe(true);
    expect(validate({ rules: [{ path: 'x', action: 'shred' }] })).toBe(false);
    expect(validate({ rules: [{ path: 'x', action: 'keep', colour: 'red' }] })).toBe(false);
    expect(() => parsePolicy({ rules: [{ path: 'x', action: 'keep' }, { path: 'x', action: 'drop' }] })).toThrow(/two rules/);
  });

  it('builds every preset exactly as parsePolicy would (presets skip zod at run time)', () => {
    for (const p of PRESET_NAMES) {
      const built = presetPolicy(p);
      expect(parsePolicy(JSON.parse(JSON.stringify(built)), p)).toEqual(built);
    }
  });
});
