import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { canary, expectNoLeak } from '../../helpers/canary.js';
import { isolatedEnv, runCli, tempDir, type CliResult } from '../../helpers/cli.js';
import { startAwsSecretsManagerEmulator, type AwsSecretsManagerEmulator } from './aws-emulator.js';

// The real CLI, spawned as a user would run it, with the AWS SDK pointed at the emulator through the
// standard AWS_ENDPOINT_URL_SECRETS_MANAGER variable and dummy credentials in the standard variables.
let emu: AwsSecretsManagerEmulator;
let dir: string;
let cleanup: () => void;
let env: Record<string, string | undefined>;
const SECRET_KEY = canary('awskey');
const ACCESS_KEY = 'AKIACLITEST4Q7Z2X9M1';

beforeAll(async () => {
  emu = await startAwsSecretsManagerEmulator();
});
afterAll(() => emu.close());
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  emu.state.reset();
  env = isolatedEnv(dir, {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: emu.endpoint,
    AWS_ACCESS_KEY_ID: ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: SECRET_KEY,
    AWS_REGION: 'eu-west-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_MAX_ATTEMPTS: '2',
  });
});
afterEach(() => cleanup());

function clean(r: CliResult, ...secrets: string[]): void {
  for (const s of [SECRET_KEY, ...secrets]) {
    expectNoLeak(r.stdout, s, 'stdout');
    expectNoLeak(r.stderr, s, 'stderr');
  }
  expect(r.stdout + r.stderr).not.toContain(ACCESS_KEY);
  expect(r.stderr).not.toMatch(/NodeVersionSupportWarning/);
}

describe('clariguard secret / run with aws-sm:// (CLI against the emulator)', () => {
  it('set, get, describe, copy and run', async () => {
    const token = canary();
    const ref = 'aws-sm://clari/prod/api-token?region=eu-west-1';
    const set = await runCli(['secret', 'set', ref, '--json'], { env, input: `${token}\n` });
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ ref, stage: 'current' });
    clean(set, token);
    expect(emu.state.find('clari/prod/api-token')!.versions[0].secretString).toBe(token);

    const get = await runCli(['secret', 'get', ref], { env });
    expect(get.code).toBe(0);
    expect(get.stdout.trim()).toBe(`${token.slice(0, 2)}****…**${token.slice(-2)}`);
    clean(get, token);

    const reveal = await runCli(['secret', 'get', ref, '--reveal'], { env });
    expect(reveal.stderr + reveal.code).toBe('0');
    expect(reveal.stdout).toBe(`${token}\n`);

    const next = canary();
    const pend = await runCli(['secret', 'set', ref, '--pending', '--json'], { env, input: next });
    expect(pend.code, pend.stderr).toBe(0);
    const pendingId = JSON.parse(pend.stdout).versionId;
    const desc = await runCli(['secret', 'describe', ref, '--json'], { env });
    expect(desc.code, desc.stderr).toBe(0);
    const d = JSON.parse(desc.stdout);
    expect(d).toMatchObject({ ref: 'aws-sm://clari/prod/api-token?region=eu-west-1', backend: 'aws-sm', ageDays: 0 });
    expect(d.versions.find((v: { id: string }) => v.id === pendingId).stages).toEqual(['pending']);
    clean(desc, token, next);
    const human = await runCli(['secret', 'describe', ref], { env });
    expect(human.stdout).toMatch(/\[current\]/);
    expect(human.stdout).toMatch(/\[pending\]/);

    const run = await runCli(
      ['run', '--env', `CLARI_API_KEY=${ref}`, '--', process.execPath, '-e', 'process.stdout.write("len=" + process.env.CLARI_API_KEY.length + " v=" + process.env.CLARI_API_KEY)'],
      { env },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`len=${token.length}`);
    clean(run, token);
  }, 180_000);

  it('copies from env: and from a .env file into AWS without the value in argv or output', async () => {
    const fromEnv = canary();
    const fromFile = canary();
    writeFileSync(join(dir, '.env'), `# local dev\nexport CLARI_API_KEY='${fromFile}' # prod token\n`, { mode: 0o600 });
    const c1 = await runCli(['secret', 'copy', 'env:CLARI_TOKEN', 'aws-sm://team/clari-a', '--json'], { env: { ...env, CLARI_TOKEN: fromEnv } });
    expect(c1.code, c1.stderr).toBe(0);
    expect(JSON.parse(c1.stdout)).toMatchObject({ src: 'env:CLARI_TOKEN', dst: 'aws-sm://team/clari-a' });
    clean(c1, fromEnv);
    const c2 = await runCli(['secret', 'copy', 'dotenv:.env#CLARI_API_KEY', 'aws-sm://team/clari-b'], { env, cwd: dir });
    expect(c2.code, c2.stderr).toBe(0);
    expect(c2.stderr).toMatch(/copied dotenv:\.env#CLARI_API_KEY -> aws-sm:\/\/team\/clari-b/);
    clean(c2, fromFile);
    expect(emu.state.find('team/clari-a')!.versions[0].secretString).toBe(fromEnv);
    expect(emu.state.find('team/clari-b')!.versions[0].secretString).toBe(fromFile);
    const list = await runCli(['secret', 'list', 'aws-sm://team/', '--json'], { env });
    expect(JSON.parse(list.stdout)).toEqual({ secrets: ['aws-sm://team/clari-a', 'aws-sm://team/clari-b'] });
  }, 180_000);

  it('exits 66 / 77 / 75 / 69 with one-line errors naming the store and operation, never credentials', async () => {
    const token = canary();
    await runCli(['secret', 'set', 'aws-sm://e/x'], { env, input: token });

    const missing = await runCli(['secret', 'get', 'aws-sm://e/missing'], { env });
    expect(missing.code).toBe(66);
    expect(missing.stderr).toBe('clariguard: aws-sm://e/missing: no such secret in AWS Secrets Manager\n');

    emu.state.deniedOps.add('GetSecretValue');
    const denied = await runCli(['secret', 'get', 'aws-sm://e/x', '--reveal'], { env });
    expect(denied.code).toBe(77);
    expect(denied.stderr).toMatch(/^clariguard: aws-sm store: GetSecretValue failed: aws-sm:\/\/e\/x: access denied[^\n]*\n$/);
    clean(denied, token);
    emu.state.deniedOps.clear();

    emu.state.injectFault('GetSecretValue', 'throttle', 2);
    const throttled = await runCli(['run', '--env', 'T=aws-sm://e/x', '--', process.execPath, '-e', '0'], { env });
    expect(throttled.code).toBe(75);
    expect(throttled.stderr).toMatch(/throttled by AWS after 2 attempts/);
    clean(throttled, token);

    const down = await runCli(['secret', 'get', 'aws-sm://e/x'], { env: { ...env, AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:9' } });
    expect(down.code).toBe(69);
    expect(down.stderr).toMatch(/cannot reach AWS Secrets Manager at http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)/);
    clean(down, token);

    const nocreds = await runCli(['secret', 'get', 'aws-sm://e/x'], { env: { ...env, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined } });
    expect(nocreds.code).toBe(78);
    expect(nocreds.stderr).toMatch(/no AWS credentials found/);
  }, 180_000);
});
