import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rollbackRotation, rotateToken, RotationError } from '../../src/rotate/index.js';
import { describeSecret, readSecret, SecretValue, writeSecret } from '../../src/secrets/index.js';
import { ROTATED_AT_TAG, ROTATION_TAG } from '../../src/secrets/journal.js';
import { canary, expectNoLeakInDir } from '../helpers/canary.js';
import { isolatedEnv, tempDir } from '../helpers/cli.js';
import { startAwsSecretsManagerEmulator, type AwsSecretsManagerEmulator } from '../secrets/backends/aws-emulator.js';
import { leaksIn, pollCurrentToken, runTraced, sha256, startClariForRotation, writeConsumerScript, type TracedRun } from './harness.js';

// Each test spawns the CLI several times; on a loaded 2-core machine a spawn can take seconds.
const CLI_TEST_TIMEOUT_MS = 240_000;

const NAME = 'clari/prod/api-token';
const REF = `aws-sm://${NAME}?region=eu-west-1`;
const AWS_SECRET_KEY = canary('awskey');

let emu: AwsSecretsManagerEmulator;
let clari: Awaited<ReturnType<typeof startClariForRotation>>;
let tmp: { dir: string; cleanup: () => void };
let env: Record<string, string | undefined>;
let oldToken: string;
let newToken: string;
let consumersFile: string;
let runs: TracedRun[];

const labels = () => Object.fromEntries(emu.state.find(NAME)!.versions.map((v) => [v.secretString === oldToken ? 'old' : v.secretString === newToken ? 'new' : 'other', [...v.stages].sort()]));

async function rotate(args: string[], input?: string, extraEnv: Record<string, string> = {}): Promise<TracedRun> {
  const r = await runTraced(['rotate', REF, '--base-url', clari.url, ...args], { ...env, ...extraEnv }, input);
  runs.push(r);
  return r;
}

beforeAll(async () => {
  emu = await startAwsSecretsManagerEmulator();
});
afterAll(() => emu.close());

beforeEach(async () => {
  tmp = tempDir('clariguard-rotaws-');
  runs = [];
  emu.state.reset();
  oldToken = canary('cgold');
  newToken = canary('cgnew');
  clari = await startClariForRotation(oldToken, newToken);
  mkdirSync(join(tmp.dir, 'trace'));
  env = isolatedEnv(tmp.dir, {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: emu.endpoint,
    AWS_ACCESS_KEY_ID: 'AKIAROTATETEST7Q2X9M',
    AWS_SECRET_ACCESS_KEY: AWS_SECRET_KEY,
    AWS_REGION: 'eu-west-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_MAX_ATTEMPTS: '2',
    CONSUMER_TRACE_DIR: join(tmp.dir, 'trace'),
    EXPECT_TOKEN_SHA: sha256(newToken),
    CLARI_URL: clari.url,
    CI: '1',
  });
  const script = writeConsumerScript(tmp.dir);
  consumersFile = join(tmp.dir, 'consumers.yml');
  writeFileSync(consumersFile, `consumers:\n  - name: extractor\n    command: [node, ${JSON.stringify(script)}]\n    env: CLARI_TOKEN\n    timeout: 20s\n`);
  await writeSecret(REF, oldToken, { env });
});

afterEach(async () => {
  for (const r of runs) {
    expect(leaksIn({ stdout: r.stdout, stderr: r.stderr, cmdline: r.cmdlines.join('\n') }, [oldToken, newToken, AWS_SECRET_KEY])).toEqual([]);
  }
  const trace = Object.fromEntries(readdirSync(join(tmp.dir, 'trace')).map((f) => [f, readFileSync(join(tmp.dir, 'trace', f))]));
  expect(leaksIn(trace, [oldToken, newToken, AWS_SECRET_KEY])).toEqual([]);
  for (const s of [oldToken, newToken]) expectNoLeakInDir(tmp.dir, s);
  // Store tags hold ids and dates only.
  for (const t of emu.state.find(NAME)?.tags ?? []) expect(leaksIn({ [t.Key]: t.Value }, [oldToken, newToken])).toEqual([]);
  await clari.close();
  tmp.cleanup();
});

describe('clariguard rotate (aws-sm:// against the Secrets Manager emulator)', () => {
  it('rotates with AWSPENDING → AWSCURRENT, survives SIGKILL after each step, then --finish deprecates the old version', async () => {
    const poll = pollCurrentToken(REF, env, clari.url, [oldToken, newToken]);
    const first = await rotate(['--consumers', consumersFile], newToken, { CLARIGUARD_ROTATE_CRASH_AFTER: 'create' });
    expect(first.signal, first.stderr).toBe('SIGKILL');
    expect(labels()).toEqual({ old: ['AWSCURRENT'], new: ['AWSPENDING'] });
    expect((await describeSecret(REF, { env })).rotation?.step).toBe('test');
    for (const point of ['test', 'set', 'promote'] as const) {
      const r = await rotate(['--resume', '--consumers', consumersFile], undefined, { CLARIGUARD_ROTATE_CRASH_AFTER: point });
      expect(r.signal, r.stderr).toBe('SIGKILL');
    }
    expect(labels()).toEqual({ old: ['AWSPREVIOUS'], new: ['AWSCURRENT'] });
    const done = await rotate(['--resume', '--consumers', consumersFile, '--json']);
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout).outcome).toBe('rotated');
    const { problems, reads } = await poll.stop();
    expect(problems).toEqual([]);
    expect(reads).toBeGreaterThan(5);
    const d = await describeSecret(REF, { env });
    expect(d.rotation).toBeNull();
    expect(d.tags[ROTATION_TAG]).toBeUndefined();
    expect(Date.parse(d.tags[ROTATED_AT_TAG])).toBeGreaterThan(Date.now() - 120_000);
    expect((await readSecret(REF, { env })).reveal()).toBe(newToken);

    clari.revoke(oldToken);
    const fin = await rotate(['--finish', '--yes']);
    expect(fin.code, fin.stderr).toBe(0);
    expect(labels()).toEqual({ old: [], new: ['AWSCURRENT'] });
  }, CLI_TEST_TIMEOUT_MS);

  it('a token Clari rejects leaves AWSCURRENT where it was and no pending label or journal behind', async () => {
    clari.revoke(newToken);
    const before = await describeSecret(REF, { env });
    const r = await rotate(['--consumers', consumersFile], newToken);
    expect(r.code).toBe(77);
    expect(r.stderr).toContain('Clari rejected the new token');
    const after = await describeSecret(REF, { env });
    expect(after.versions).toEqual(before.versions);
    expect(after.tags).toEqual(before.tags);
    expect(labels()).toEqual({ old: ['AWSCURRENT'], new: [] });
  }, CLI_TEST_TIMEOUT_MS);

  it('a failing consumer stops before promotion; rollback removes AWSPENDING, and swaps a completed rotation back', async () => {
    const o = { env, baseUrl: clari.url, consumerOutput: new Writable({ write: (_c, _e, cb) => cb() }) };
    const failed = await rotateToken(REF, { ...o, env: { ...env, CONSUMER_FAIL: '1' }, consumers: consumersFile, newToken: new SecretValue(newToken) }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(RotationError);
    expect((failed as RotationError).code).toBe('consumer_failed');
    expect(labels()).toEqual({ old: ['AWSCURRENT'], new: ['AWSPENDING'] });
    expect((await rollbackRotation(REF, o)).outcome).toBe('abandoned');
    expect(labels()).toEqual({ old: ['AWSCURRENT'], new: [] });
    expect((await describeSecret(REF, { env })).rotation).toBeNull();

    expect((await rotateToken(REF, { ...o, consumers: consumersFile, newToken: new SecretValue(newToken) })).outcome).toBe('rotated');
    const relabelled = labels();
    expect(relabelled.new).toEqual(['AWSCURRENT']);
    expect(relabelled.old).toEqual(['AWSPREVIOUS']);
    const back = await rollbackRotation(REF, o);
    expect(back.outcome).toBe('rolled-back');
    expect((await readSecret(REF, { env })).reveal()).toBe(oldToken);
    expect(labels().old).toEqual(['AWSCURRENT']);
  }, CLI_TEST_TIMEOUT_MS);
});
