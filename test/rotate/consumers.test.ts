import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../../src/errors.js';
import { consumersJsonSchema, DEFAULT_CONSUMER_TIMEOUT_MS, parseConsumers } from '../../src/rotate/index.js';
import { ROOT } from '../helpers/cli.js';

const FILE = '/srv/app/consumers.yml';

function bad(text: string): InputError {
  try {
    parseConsumers(text, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected the consumers file to be rejected');
}

const GOOD = `consumers:
  - name: extractor
    command: [python, extract.py, --check]
    env: CLARI_API_KEY
    cwd: jobs
    timeout: 500ms
  - name: airflow
    url: https://airflow.internal.example.com/health/clari
    header: X-Clari-Token
    method: POST
    expectStatus: 204
    timeout: 2m
  - name: local-proxy
    url: http://127.0.0.1:8080/health
`;

describe('consumers.yml', () => {
  it('parses both kinds, resolves cwd against the file and applies defaults', () => {
    const checks = parseConsumers(GOOD, FILE);
    expect(checks).toEqual([
      { kind: 'command', name: 'extractor', command: ['python', 'extract.py', '--check'], env: 'CLARI_API_KEY', cwd: '/srv/app/jobs', timeoutMs: 500 },
      { kind: 'url', name: 'airflow', url: 'https://airflow.internal.example.com/health/clari', header: 'X-Clari-Token', method: 'POST', expectStatus: 204, timeoutMs: 120_000 },
      { kind: 'url', name: 'local-proxy', url: 'http://127.0.0.1:8080/health', header: 'apikey', method: 'GET', timeoutMs: DEFAULT_CONSUMER_TIMEOUT_MS },
    ]);
  });

  it('names the file, line and column of a bad entry', () => {
    const e = bad(`consumers:\n  - name: a\n    command: [x]\n    env: CLARI\n  - name: b\n    command: [y]\n    env: 1BAD\n`);
    expect(e.message).toBe(`${FILE} (line 7, column 10, byte offset 93): consumers[1].env: an environment variable name`);
    expect(e.exitCode).toBe(65);
    expect(bad(`consumers:\n  - name: a\n    command: [x]\n`).message).toContain('(line 2, column 5, byte offset 15): consumers[0].env: "env" is required');
    expect(bad(`consumers:\n  - name: a\n    command: [x]\n    url: https://x.example\n`).message).toContain('give either "command" (with "env") or "url", not both');
    expect(bad(`consumers:\n  - name: a\n`).message).toContain('not neither');
    expect(bad(`consumers:\n  - name: a\n    url: https://x.example\n    token: abc\n`).message).toContain('unknown key "token"');
    expect(bad(`consumers:\n  - name: a\n    url: https://x.example\n  - name: a\n    url: https://y.example\n`).message).toContain('(line 4, column 11');
    expect(bad(`consumers: [\n`).message).toMatch(/^\/srv\/app\/consumers.yml \(line \d+.*not valid YAML/);
    expect(bad(`- a\n`).message).toContain('expected a mapping with a "consumers" list');
    expect(bad(`consumers:\n  - name: a\n    command: [x]\n    env: A\n    timeout: soon\n`).message).toContain('consumers[0].timeout');
  });

  it('refuses to send the token over plain http to another host, or with credentials in the URL', () => {
    expect(bad(`consumers:\n  - name: a\n    url: http://health.example.com/x\n`).message).toContain('plain http would send the token in clear');
    expect(bad(`consumers:\n  - name: a\n    url: https://u:p@health.example.com/x\n`).message).toContain('credentials in the URL');
    expect(bad(`consumers:\n  - name: a\n    url: ftp://health.example.com/x\n`).message).toContain('consumers[0].url');
    expect(parseConsumers(`consumers:\n  - name: a\n    url: http://localhost:9/x\n`, FILE)[0].kind).toBe('url');
  });

  it('the committed JSON Schema is the one the code validates with, and agrees on examples', () => {
    const committed = JSON.parse(readFileSync(join(ROOT, 'schemas', 'consumers.schema.json'), 'utf8'));
    // Regenerate with: node -e "import('./dist/rotate/index.js').then(m => console.log(JSON.stringify(m.consumersJsonSchema(), null, 2)))" > schemas/consumers.schema.json
    expect(committed).toEqual(consumersJsonSchema());
    const ajv = new Ajv2020.default({ strict: false });
    addFormats.default(ajv);
    const validate = ajv.compile(committed);
    expect(validate(parseYaml(GOOD))).toBe(true);
    expect(validate({ consumers: [{ name: 'a', command: ['x'], env: 'A', extra: 1 }] })).toBe(false);
    expect(validate({ consumers: [] })).toBe(false);
  });
});
