import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeSecret } from '../../src/secrets/index.js';
import { canary, expectNoLeakInDir } from '../helpers/canary.js';
import { isolatedEnv, runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { startGcpSecretManagerEmulator, type GcpEmulator } from '../secrets/backends/gcp-emulator.js';
import { startVaultEmulator, type VaultEmulator } from '../secrets/backends/vault-emulator.js';
import { startAwsSecretsManagerEmulator, type AwsSecretsManagerEmulator } from '../secrets/backends/aws-emulator.js';
import { leaksIn, pollCurrentToken, runTraced, startClariForRotation, type TracedRun } from './harness.js';

// The rotation workflow, black-box through the CLI, on the stores without native staging labels
// (Vault KV v2: custom_metadata stage map; GCP: version aliases). Each stage the rotation sets must be
// what `secret get --stage` reads back.
const T = 240_000;
const VAULT_TOKEN = canary('hvs');
const GCP_TOKEN = canary('ya29');

let vault: VaultEmulator;
let gcp: GcpEmulator;
let aws: AwsSecretsManagerEmulator;
const AWS_KEY = canary('awskey');
beforeAll(async () => {
  aws = await startAwsSecretsManagerEmulator();
  vault = await startVaultEmulator({ token: VAULT_TOKEN });
  gcp = await startGcpSecretManagerEmulator({ token: GCP_TOKEN });
});
afterAll(async () => {
  await vault.close();
  await gcp.close();
  await aws.close();
});

const stores = [
  { name: 'local', ref: 'local:clari/prod/api-token', storeEnv: (): Record<string, string> => ({}), reset: () => undefined, credential: canary('unused') },
  {
    name: 'aws',
    ref: 'aws-sm://clari/prod/api-token?region=eu-west-1',
    storeEnv: (): Record<string, string> => ({
      AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.endpoint,
      AWS_ACCESS_KEY_ID: 'AKIAROTATETEST7Q2X9M',
      AWS_SECRET_ACCESS_KEY: AWS_KEY,
      AWS_REGION: 'eu-west-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    }),
    reset: () => aws.state.reset(),
    credential: AWS_KEY,
  },
  {
    name: 'vault',
    ref: 'vault://secret/clari/prod#token',
    storeEnv: (): Record<string, string> => ({ VAULT_ADDR: vault.address, VAULT_TOKEN }),
    reset: () => vault.state.reset(),
    credential: VAULT_TOKEN,
  },
  {
    name: 'gcp',
    ref: 'gcp-sm://projects/acme/secrets/clari-token',
    storeEnv: (): Record<string, string> => ({
      CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER: `${gcp.endpoint}/`,
      GCE_METADATA_HOST: `127.0.0.1:${gcp.port}`,
      METADATA_SERVER_DETECTION: 'assume-present',
    }),
    reset: () => gcp.state.reset(),
    credential: GCP_TOKEN,
  },
];

describe.each(stores)('clariguard rotate on $name (CLI against the emulator)', (store) => {
  let tmp: { dir: string; cleanup: () => void };
  let env: Record<string, string | undefined>;
  let clari: Awaited<ReturnType<typeof startClariForRotation>>;
  let oldToken: string;
  let newToken: string;
  let runs: (TracedRun | CliResult)[];

  const rotate = async (args: string[], input?: string, extra: Record<string, string> = {}) => {
    const r = await runTraced(['rotate', store.ref, '--base-url', clari.url, ...args], { ...env, ...extra }, input);
    runs.push(r);
    return r;
  };
  const get = async (stage: string) => {
    const r = await runCli(['secret', 'get', store.ref, '--stage', stage, '--reveal'], { env });
    return { code: r.code, value: r.stdout.replace(/\n$/, ''), stderr: r.stderr };
  };
  const stages = async () => ({ current: (await get('current')).value, pending: (await get('pending')).value, previous: (await get('previous')).value });

  beforeEach(async () => {
    tmp = tempDir('clariguard-rotstores-');
    runs = [];
    store.reset();
    oldToken = canary('cgold');
    newToken = canary('cgnew');
    clari = await startClariForRotation(oldToken, newToken);
    env = isolatedEnv(tmp.dir, { ...store.storeEnv(), CI: '1' });
    // In-process reads (describe, the polling reader): Google's ADC looks at process.env only.
    Object.assign(process.env, store.storeEnv());
    // Through the CLI: GCP's credentials come from ADC, which reads the process environment.
    const seed = await runCli(['secret', 'set', store.ref], { env, input: `${oldToken}\n` });
    expect(seed.code, seed.stderr).toBe(0);
    runs.push(seed);
  });
  afterEach(async () => {
    for (const r of runs) {
      const cmd = 'cmdlines' in r ? r.cmdlines.join('\n') : '';
      expect(leaksIn({ stdout: r.stdout, stderr: r.stderr, cmdline: cmd }, [oldToken, newToken, store.credential])).toEqual([]);
    }
    for (const s of [oldToken, newToken, store.credential]) expectNoLeakInDir(tmp.dir, s);
    for (const k of Object.keys(store.storeEnv())) delete process.env[k];
    await clari.close();
    tmp.cleanup();
  });

  it('SIGKILL after each step, --resume, stages read back by secret get --stage, rollback, --finish', async () => {
    const poll = pollCurrentToken(store.ref, env, clari.url, [oldToken, newToken]);
    const first = await rotate([], newToken, { CLARIGUARD_ROTATE_CRASH_AFTER: 'create' });
    expect(first.signal, first.stderr).toBe('SIGKILL');
    expect(await stages()).toEqual({ current: oldToken, pending: newToken, previous: '' });
    expect((await describeSecret(store.ref, { env })).rotation?.step).toBe('test');
    for (const point of ['test', 'set', 'promote'] as const) {
      const r = await rotate(['--resume'], undefined, { CLARIGUARD_ROTATE_CRASH_AFTER: point });
      expect(r.signal, `${point}: ${r.stderr}`).toBe('SIGKILL');
      if (point !== 'promote') expect((await get('current')).value).toBe(oldToken);
    }
    const done = await rotate(['--resume', '--json']);
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout).outcome).toBe('rotated');
    const { problems } = await poll.stop();
    expect(problems).toEqual([]);
    expect(await stages()).toEqual({ current: newToken, pending: '', previous: oldToken });
    expect((await get('pending')).code).toBe(66);
    expect((await describeSecret(store.ref, { env })).rotation).toBeNull();

    const back = await rotate(['--rollback']);
    expect(back.code, back.stderr).toBe(0);
    expect(await stages()).toEqual({ current: oldToken, pending: '', previous: newToken });
    const again = await rotate(['--rollback']);
    expect(again.code, again.stderr).toBe(0);
    expect(await stages()).toEqual({ current: newToken, pending: '', previous: oldToken });

    clari.revoke(oldToken);
    const fin = await rotate(['--finish', '--yes']);
    expect(fin.code, fin.stderr).toBe(0);
    expect(await stages()).toEqual({ current: newToken, pending: '', previous: '' });
    expect((await get('previous')).code).toBe(66);
  }, T);

  it('a rejected token leaves current untouched; rollback during a rotation drops the pending version', async () => {
    clari.revoke(newToken);
    const before = await describeSecret(store.ref, { env });
    const r = await rotate([], newToken);
    expect(r.code, r.stderr).toBe(77);
    const after = await describeSecret(store.ref, { env });
    expect(after.rotation).toBeNull();
    expect(after.versions.filter((v) => v.stages.length > 0).map((v) => [v.id, v.stages])).toEqual(before.versions.map((v) => [v.id, v.stages]));
    expect(await stages()).toEqual({ current: oldToken, pending: '', previous: '' });

    const third = canary('cgthird');
    const started = await rotate([], third, { CLARIGUARD_ROTATE_CRASH_AFTER: 'create' });
    expect(started.signal).toBe('SIGKILL');
    expect((await get('pending')).value).toBe(third);
    const abandon = await rotate(['--rollback']);
    expect(abandon.code, abandon.stderr).toBe(0);
    expect(await stages()).toEqual({ current: oldToken, pending: '', previous: '' });
    expect((await describeSecret(store.ref, { env })).rotation).toBeNull();
    for (const x of runs) expect(leaksIn({ out: x.stdout + x.stderr }, [third])).toEqual([]);
  }, T);
});

describe.each(stores)('clariguard rotate on $name over a stale pending version (secret set --pending, no journal)', (store) => {
  it('starts, replaces the stale pending token and completes', async () => {
    const { dir, cleanup } = tempDir('clariguard-rotstale-');
    store.reset();
    const oldToken = canary('cgold');
    const newToken = canary('cgnew');
    const stale = canary('cgstale');
    const clari = await startClariForRotation(oldToken, newToken);
    const env = isolatedEnv(dir, { ...store.storeEnv(), CI: '1' });
    try {
      const outs: string[] = [];
      for (const [args, input] of [[['secret', 'set', store.ref], oldToken], [['secret', 'set', store.ref, '--pending'], stale]] as const) {
        const r = await runCli([...args], { env, input: `${input}\n` });
        expect(r.code, r.stderr).toBe(0);
        outs.push(r.stdout, r.stderr);
      }
      const r = await runTraced(['rotate', store.ref, '--base-url', clari.url], env, newToken);
      outs.push(r.stdout, r.stderr, r.cmdlines.join(' '));
      expect(r.code, r.stderr).toBe(0);
      const cur = await runCli(['secret', 'get', store.ref, '--reveal'], { env });
      expect(cur.stdout).toBe(`${newToken}\n`);
      const pend = await runCli(['secret', 'get', store.ref, '--stage', 'pending'], { env });
      expect(pend.code).toBe(66);
      expect(leaksIn({ o: outs.join('\n') }, [oldToken, newToken, stale])).toEqual([]);
    } finally {
      await clari.close();
      cleanup();
    }
  }, T);
});

describe('clariguard rotate refuses read-only stores', () => {
  it.each(['env:CLARI_API_KEY', 'op://Eng/Clari/token', 'dotenv:app.env#CLARI_API_KEY'])('%s', async (ref) => {
    const { dir, cleanup } = tempDir('clariguard-rotro-');
    try {
      const tok = canary();
      writeFileSync(join(dir, 'app.env'), `CLARI_API_KEY=${tok}\n`, { mode: 0o600 });
      const r = await runCli(['rotate', ref.replace('app.env', join(dir, 'app.env'))], { env: isolatedEnv(dir, { CLARI_API_KEY: tok, CI: '1' }), input: `${canary()}\n` });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/cannot hold versions/);
      expect(leaksIn({ o: r.stdout + r.stderr }, [tok])).toEqual([]);
    } finally {
      cleanup();
    }
  }, 60_000);
});
