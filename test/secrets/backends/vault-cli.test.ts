import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { canary, expectNoLeak } from '../../helpers/canary.js';
import { isolatedEnv, runCli, tempDir, type CliResult } from '../../helpers/cli.js';
import { startVaultEmulator, type VaultEmulator } from './vault-emulator.js';

// The real CLI against the Vault KV v2 emulator, configured through VAULT_ADDR / VAULT_TOKEN / VAULT_NAMESPACE.
let vault: VaultEmulator;
let dir: string;
let cleanup: () => void;
let env: Record<string, string | undefined>;
const TOKEN = canary('hvs');

beforeAll(async () => {
  vault = await startVaultEmulator({ token: TOKEN, namespace: 'eng' });
});
afterAll(() => vault.close());
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  vault.state.reset();
  env = isolatedEnv(dir, { VAULT_ADDR: vault.address, VAULT_TOKEN: TOKEN, VAULT_NAMESPACE: 'eng' });
});
afterEach(() => cleanup());

function clean(r: CliResult, ...secrets: string[]): void {
  for (const s of [TOKEN, ...secrets]) {
    expectNoLeak(r.stdout, s, 'stdout');
    expectNoLeak(r.stderr, s, 'stderr');
  }
}

describe('clariguard secret / run with vault:// (CLI against the emulator)', () => {
  it('set, get, describe, copy, run and a permission error', async () => {
    const token = canary();
    const ref = 'vault://secret/clari/prod#token';
    const set = await runCli(['secret', 'set', ref], { env, input: `${token}\n` });
    expect(set.code, set.stderr).toBe(0);
    expect(set.stderr).toMatch(/stored vault:\/\/secret\/clari\/prod#token \(version 1, current\)/);
    clean(set, token);

    const get = await runCli(['secret', 'get', ref], { env });
    expect(get.stdout.trim()).toBe(`${token.slice(0, 2)}****…**${token.slice(-2)}`);
    clean(get, token);
    const reveal = await runCli(['secret', 'get', ref, '--reveal'], { env });
    expect(reveal.stdout).toBe(`${token}\n`);

    const d = await runCli(['secret', 'describe', ref, '--json'], { env });
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ backend: 'vault', versions: [{ id: '1', stages: ['current'] }], tags: {} });
    clean(d, token);

    const fromFile = canary();
    writeFileSync(join(dir, 'app.env'), `CLARI_API_KEY="${fromFile}"\n`, { mode: 0o600 });
    const copy = await runCli(['secret', 'copy', `dotenv:${join(dir, 'app.env')}#CLARI_API_KEY`, ref], { env });
    expect(copy.code, copy.stderr).toBe(0);
    clean(copy, fromFile);
    expect(vault.state.secret('secret', 'clari/prod')!.versions.get(2)!.data).toEqual({ token: fromFile });

    const run = await runCli(['run', '--env', `CLARI_API_KEY=${ref}`, '--', process.execPath, '-e', 'console.log(process.env.CLARI_API_KEY)'], { env });
    expect(run.code, run.stderr).toBe(0);
    clean(run, fromFile, token);

    vault.state.deniedPaths.push(/^secret\/data\//);
    const denied = await runCli(['secret', 'get', ref], { env });
    expect(denied.code).toBe(77);
    expect(denied.stderr).toBe(
      "clariguard: vault store: read failed: vault://secret/clari/prod#token: permission denied for GET /v1/secret/data/clari/prod (check the token's Vault policy and VAULT_NAMESPACE)\n",
    );
    clean(denied, fromFile);

    const missing = await runCli(['secret', 'get', 'vault://secret/nope#token'], { env });
    expect(missing.code).toBe(66);
    const noAddr = await runCli(['secret', 'get', ref], { env: { ...env, VAULT_ADDR: undefined } });
    expect(noAddr.code).toBe(78);
    clean(noAddr);
  }, 180_000);
});
