import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OnePasswordBackend } from '../../../src/secrets/backends/onepassword.js';
import { parseSecretRef } from '../../../src/secrets/ref.js';
import { SecretValue } from '../../../src/secrets/value.js';
import { canary, expectNoLeak, findLeak, expectCleanFailure } from '../../helpers/canary.js';
import { isolatedEnv, runCli, tempDir } from '../../helpers/cli.js';
import { installFakeOp } from './fake-op.js';

let dir: string;
let cleanup: () => void;
let env: Record<string, string | undefined>;
let value: string;
const ref = (s: string) => parseSecretRef(s);

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  installFakeOp(join(dir, 'bin'));
  value = canary();
  const updated = new Date(Date.now() - 3 * 86_400_000).toISOString();
  writeFileSync(
    join(dir, 'op-db.json'),
    JSON.stringify({
      refs: { 'op://Eng/Clari/credential': value, 'op://Eng/Clari/api/token?attribute=value': value },
      items: { 'Eng/Clari': { id: 'abc', version: 4, created_at: '2026-01-01T00:00:00Z', updated_at: updated, fields: [{ value }] } },
    }),
  );
  env = isolatedEnv(dir, {
    PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
    FAKE_OP_DB: join(dir, 'op-db.json'),
    FAKE_OP_ARGV_LOG: join(dir, 'argv.log'),
  });
});
afterEach(() => cleanup());

const failure = (p: Promise<unknown>, exitCode: number) => expectCleanFailure(p, exitCode, [value]);

describe('op:// backend (1Password CLI)', () => {
  it('reads through `op read --no-newline REF`, with only the reference in argv', async () => {
    const b = new OnePasswordBackend({ env });
    expect((await b.read(ref('op://Eng/Clari/credential'))).reveal()).toBe(value);
    expect((await b.read(ref('op://Eng/Clari/api/token?attribute=value'))).reveal()).toBe(value);
    const argv = readFileSync(join(dir, 'argv.log'), 'utf8');
    expect(argv.split('\n')[0]).toBe('["read","--no-newline","op://Eng/Clari/credential"]');
    expect(findLeak(argv, value)).toBeNull();
    const d = await b.describe(ref('op://Eng/Clari/credential'));
    expect(d).toMatchObject({ backend: 'op', versions: [{ id: '4', stages: ['current'] }], rotatedAt: null, ageDays: 3 });
    expectNoLeak(JSON.stringify(d), value);
  });

  it('is read-only, and errors clearly when op is missing, not signed in, or the item does not exist', async () => {
    const b = new OnePasswordBackend({ env });
    await failure(b.write(ref('op://Eng/Clari/credential'), new SecretValue('x')), 2);
    let e = await failure(b.read(ref('op://Eng/Nope/credential')), 66);
    expect(e.message).toMatch(/^op:\/\/Eng\/Nope\/credential: 1Password has no such vault, item or field \("Nope" isn't an item in the "Eng" vault/);
    e = await failure(new OnePasswordBackend({ env: { ...env, FAKE_OP_SIGNED_OUT: '1' } }).read(ref('op://Eng/Clari/credential')), 77);
    expect(e.message).toMatch(/1Password CLI is not signed in \(run `eval \$\(op signin\)`/);
    e = await failure(new OnePasswordBackend({ env: { ...env, PATH: '/nonexistent' } }).read(ref('op://Eng/Clari/credential')), 69);
    expect(e.message).toBe(
      'op store: read failed: op://Eng/Clari/credential: the 1Password CLI (op) is not installed or not on PATH; install it from https://developer.1password.com/docs/cli/get-started/',
    );
    await failure(b.read(ref('op://Eng/Clari')), 2);
  });

  it('works from the CLI: get, copy into local:, run; canary never in output', async () => {
    const get = await runCli(['secret', 'get', 'op://Eng/Clari/credential'], { env });
    expect(get.code, get.stderr).toBe(0);
    expectNoLeak(get.stdout + get.stderr, value);
    const copy = await runCli(['secret', 'copy', 'op://Eng/Clari/credential', 'local:clari/prod'], { env });
    expect(copy.code, copy.stderr).toBe(0);
    expectNoLeak(copy.stdout + copy.stderr, value);
    const back = await runCli(['secret', 'get', 'local:clari/prod', '--reveal'], { env });
    expect(back.stdout).toBe(`${value}\n`);
    const run = await runCli(['run', '--env', 'T=op://Eng/Clari/credential', '--', process.execPath, '-e', 'console.log(process.env.T)'], { env });
    expect(run.code, run.stderr).toBe(0);
    expectNoLeak(run.stdout + run.stderr, value);
    const signedOut = await runCli(['secret', 'get', 'op://Eng/Clari/credential'], { env: { ...env, FAKE_OP_SIGNED_OUT: '1' } });
    expect(signedOut.code).toBe(77);
    expect(signedOut.stderr).toMatch(/^clariguard: op store: read failed: .*not signed in/);
  }, 180_000);
});
