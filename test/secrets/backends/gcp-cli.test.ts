import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { canary, expectNoLeak } from '../../helpers/canary.js';
import { isolatedEnv, runCli, tempDir, type CliResult } from '../../helpers/cli.js';
import { startGcpSecretManagerEmulator, type GcpEmulator } from './gcp-emulator.js';

// The real CLI with the real Google client and Application Default Credentials: the emulator also plays the
// GCE metadata server (GCE_METADATA_HOST), and gcloud's endpoint override points Secret Manager at it.
let emu: GcpEmulator;
let dir: string;
let cleanup: () => void;
let env: Record<string, string | undefined>;
const TOKEN = canary('ya29');

beforeAll(async () => {
  emu = await startGcpSecretManagerEmulator({ token: TOKEN });
});
afterAll(() => emu.close());
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  emu.state.reset();
  env = isolatedEnv(dir, {
    CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER: `${emu.endpoint}/`,
    GCE_METADATA_HOST: `127.0.0.1:${emu.port}`,
    METADATA_SERVER_DETECTION: 'assume-present',
  });
});
afterEach(() => cleanup());

const clean = (r: CliResult, ...secrets: string[]) => {
  for (const s of [TOKEN, ...secrets]) expectNoLeak(r.stdout + r.stderr, s);
};

describe('clariguard secret / run with gcp-sm:// (CLI, ADC from an emulated metadata server)', () => {
  it('copy, get, describe, run and a permission error', async () => {
    const token = canary();
    const ref = 'gcp-sm://projects/acme/secrets/clari-token';
    const copy = await runCli(['secret', 'copy', 'env:CLARI_API_KEY', ref, '--json'], { env: { ...env, CLARI_API_KEY: token } });
    expect(copy.code, copy.stderr).toBe(0);
    expect(JSON.parse(copy.stdout)).toMatchObject({ dst: ref, versionId: '1' });
    clean(copy, token);
    const reveal = await runCli(['secret', 'get', ref, '--reveal'], { env });
    expect(reveal.code, reveal.stderr).toBe(0);
    expect(reveal.stdout).toBe(`${token}\n`);
    const run = await runCli(['run', '--env', `T=${ref}`, '--', process.execPath, '-e', 'console.log(process.env.T)'], { env });
    expect(run.code, run.stderr).toBe(0);
    clean(run, token);
    emu.state.denied.add('versions.access');
    const denied = await runCli(['secret', 'get', ref], { env });
    expect(denied.code).toBe(77);
    expect(denied.stderr).toMatch(/^clariguard: gcp-sm store: accessSecretVersion failed: .*permission denied/);
    clean(denied, token);
  }, 180_000);
});
