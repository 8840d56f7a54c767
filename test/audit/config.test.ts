import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { auditConfigJsonSchema, loadAuditConfig, parseRoster, validateAuditConfig } from '../../src/audit/config.js';
import { ROOT, tempDir } from '../helpers/cli.js';
import { write } from './fixtures.js';

const EXAMPLE = `token: aws-sm://clari/prod/api-token?region=us-east-1   # or local:, vault://, …
maxTokenAgeDays: 90
repos: [.]
exportPaths: [exports/]            # where exported files may live
warehouses:
  - name: analytics
    url: env:WAREHOUSE_URL          # a secret reference to a postgres:// URL
    environment: production          # or non-production
    schema: clari
    readers: [clari_reader]          # roles allowed to read
roster: people.csv                  # name,email,hasTokenAccess,leftOn
allowedTokenReaders: [arn:aws:iam::123456789012:role/clari-export]
`;

function errorOf(fn: () => unknown): { message: string; exitCode: number } {
  try {
    fn();
  } catch (e) {
    return e as { message: string; exitCode: number };
  }
  throw new Error('expected an error');
}

describe('clariguard.yml', () => {
  it('accepts the example from the issue and fills defaults', () => {
    const t = tempDir();
    write(join(t.dir, 'clariguard.yml'), EXAMPLE);
    const { config } = loadAuditConfig(join(t.dir, 'clariguard.yml'));
    expect(config.warehouses[0]).toEqual({ name: 'analytics', url: 'env:WAREHOUSE_URL', environment: 'production', schema: 'clari', readers: ['clari_reader'] });
    expect(config.environment).toBe('production');
    expect(config.logPaths).toEqual([]);
    t.cleanup();
  });

  it('names the file, the line and the path of a bad field (exit 78)', () => {
    const t = tempDir();
    const f = join(t.dir, 'clariguard.yml');
    write(f, EXAMPLE.replace('environment: production ', 'environment: prod '));
    const e = errorOf(() => loadAuditConfig(f));
    expect(e.exitCode).toBe(78);
    expect(e.message).toMatch(/clariguard\.yml \(line 8\): warehouses\[0\]\.environment: /);
    expect(e.message.split('\n')).toHaveLength(1);

    write(f, EXAMPLE.replace('url: env:WAREHOUSE_URL', 'url: postgres://admin:hunter2hunter2@db/clari'));
    const e2 = errorOf(() => loadAuditConfig(f));
    expect(e2.message).toMatch(/line 7\): warehouses\[0\]\.url: .*not a literal connection URL/);
    expect(e2.message).not.toContain('hunter2');

    write(f, `${EXAMPLE}maxTokenAge: 3\n`);
    expect(errorOf(() => loadAuditConfig(f)).message).toMatch(/\(line 13\): maxTokenAge: unknown setting/);

    write(f, 'token: [unclosed\n');
    const e4 = errorOf(() => loadAuditConfig(f));
    expect(e4.exitCode).toBe(78);
    expect(e4.message).toMatch(/not valid YAML/);
    t.cleanup();
  });

  it('rejects a token that is not a secret reference without echoing it', () => {
    const e = errorOf(() => validateAuditConfig({ token: 'zz9plural1alpha7hunter2' }, 'c.yml'));
    expect(e.exitCode).toBe(78);
    expect(e.message).toMatch(/^c\.yml: token: /);
    expect(e.message).not.toContain('zz9plural1alpha7hunter2');
  });

  it('publishes a JSON schema that is in sync with the zod schema and validates configs', () => {
    const committed = JSON.parse(readFileSync(join(ROOT, 'schemas', 'clariguard-config.schema.json'), 'utf8'));
    // Regenerate with: node bin/clariguard.js audit --print-schema > schemas/clariguard-config.schema.json
    expect(committed).toEqual(auditConfigJsonSchema());
    const ajv = new Ajv2020.default({ strict: false });
    const validate = ajv.compile(committed);
    expect(validate({ token: 'local:clari/api-token', warehouses: [{ name: 'a', url: 'env:U', environment: 'non-production' }] })).toBe(true);
    expect(validate({ warehouses: [{ name: 'a', url: 'env:U', environment: 'staging' }] })).toBe(false);
    expect(validate({ typo: 1 })).toBe(false);
  });
});

describe('roster CSV', () => {
  it('parses name,email,hasTokenAccess,leftOn', () => {
    const r = parseRoster('name,email,hasTokenAccess,leftOn\nAna Silva,ana@acme.com,true,\n"Costa, Bruno",bruno@acme.com,yes,2026-01-10\n', 'people.csv');
    expect(r).toEqual([
      { name: 'Ana Silva', email: 'ana@acme.com', hasTokenAccess: true, leftOn: null, line: 2 },
      { name: 'Costa, Bruno', email: 'bruno@acme.com', hasTokenAccess: true, leftOn: '2026-01-10', line: 3 },
    ]);
  });
  it('names the file and line of a bad row (exit 65)', () => {
    const e = errorOf(() => parseRoster('name,email,hasTokenAccess,leftOn\nAna,ana@acme.com,true,\nBo,bo@acme.com,maybe,\n', 'people.csv'));
    expect(e.exitCode).toBe(65);
    expect(e.message).toBe('people.csv (line 3): hasTokenAccess must be true or false');
    expect(errorOf(() => parseRoster('name,email,hasTokenAccess,leftOn\nAna,ana@acme.com,true,10/01/2026\n', 'p.csv')).message).toMatch(/line 2\): leftOn/);
    expect(errorOf(() => parseRoster('name,mail\nAna,a@b.c\n', 'p.csv')).message).toMatch(/missing column "email"/);
  });
});
