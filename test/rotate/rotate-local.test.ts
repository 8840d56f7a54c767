import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeSecret, readSecret, writeSecret } from '../../src/secrets/index.js';
import { ROTATED_AT_TAG, ROTATION_TAG } from '../../src/secrets/journal.js';
import { canary, expectNoLeakInDir } from '../helpers/canary.js';
import { isolatedEnv, tempDir } from '../helpers/cli.js';
import { startClariForRotation, leaksIn, pollCurrentToken, runTraced, sha256, startHttp, writeConsumerScript, type TracedRun } from './harness.js';

// Each test spawns the CLI several times; on a loaded 2-core machine a spawn can take seconds.
const CLI_TEST_TIMEOUT_MS = 240_000;

const REF = 'local:clari/prod/api-token';

let tmp: { dir: string; cleanup: () => void };
let clari: Awaited<ReturnType<typeof startClariForRotation>>;
let health: Awaited<ReturnType<typeof startHttp>>;
let oldToken: string;
let newToken: string;
let env: Record<string, string | undefined>;
let consumersFile: string;
const runs: TracedRun[] = [];

async function rotate(args: string[], input?: string, extraEnv: Record<string, string> = {}): Promise<TracedRun> {
  const r = await runTraced(['rotate', REF, '--base-url', clari.url, ...args], { ...env, ...extraEnv }, input);
  runs.push(r);
  return r;
}

function traceFiles(): Record<string, Buffer> {
  const dir = join(tmp.dir, 'trace');
  return Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))]));
}

beforeAll(async () => {
  health = await startHttp((h) => (h['x-clari-token'] === newToken ? 200 : 503));
});

afterAll(async () => {
  await clari?.close();
  await health.close();
});

beforeEach(async () => {
  tmp?.cleanup();
  tmp = tempDir('clariguard-rotate-');
  oldToken = canary('cgold');
  newToken = canary('cgnew');
  await clari?.close();
  clari = await startClariForRotation(oldToken, newToken);
  const traceDir = join(tmp.dir, 'trace');
  env = isolatedEnv(tmp.dir, { CONSUMER_TRACE_DIR: traceDir, EXPECT_TOKEN_SHA: sha256(newToken), CLARI_URL: clari.url, CI: '1' });
  mkdirSync(traceDir);
  const script = writeConsumerScript(tmp.dir);
  consumersFile = join(tmp.dir, 'consumers.yml');
  writeFileSync(
    consumersFile,
    `consumers:
  - name: extractor
    command: [node, ${JSON.stringify(script)}]
    env: CLARI_TOKEN
    timeout: 20s
  - name: airflow-health
    url: ${health.url}/health
    header: X-Clari-Token
    timeout: 5
`,
  );
  await writeSecret(REF, oldToken, { env });
});

afterAll(() => tmp?.cleanup());

function assertNoLeaks(extra: TracedRun[] = []): void {
  for (const r of [...runs.splice(0), ...extra]) {
    expect(leaksIn({ stdout: r.stdout, stderr: r.stderr, cmdline: r.cmdlines.join('\n') }, [oldToken, newToken])).toEqual([]);
    for (const c of r.cmdlines) expect(c).toContain('clariguard.js');
  }
  expect(leaksIn(traceFiles(), [oldToken, newToken])).toEqual([]);
  expectNoLeakInDir(tmp.dir, oldToken);
  expectNoLeakInDir(tmp.dir, newToken);
}

describe('clariguard rotate (local store)', () => {
  it('rotates end to end: pending, Clari check, consumer checks, promotion, then --finish after revocation', async () => {
    const r = await rotate(['--consumers', consumersFile, '--json'], `${newToken}\n`);
    expect(r.stderr).toContain('create: stored the new token as pending version');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.outcome).toBe('rotated');
    expect(report.consumers.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).toEqual([
      ['extractor', true],
      ['airflow-health', true],
    ]);
    expect(report.steps.map((s: { step: string }) => s.step)).toEqual(['create', 'test', 'set', 'finish']);
    expect(r.stderr).toContain('Settings → API Token');
    expect(r.stderr).toContain('consumer got token'); // the consumer's own output, masked
    expect((await readSecret(REF, { env })).reveal()).toBe(newToken);
    expect((await readSecret(REF, { env, stage: 'previous' })).reveal()).toBe(oldToken);
    const d = await describeSecret(REF, { env });
    expect(d.rotation).toBeNull();
    expect(d.tags[ROTATION_TAG]).toBeUndefined();
    expect(d.tags[ROTATED_AT_TAG]).toBe(d.rotatedAt);
    expect(report.rotatedAt).toBe(d.rotatedAt);
    // The consumer child ran with the token in its environment only.
    expect(Object.keys(traceFiles()).length).toBe(1);

    // --finish refuses while Clari still accepts the old token.
    const early = await rotate(['--finish', '--yes']);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain('still works');
    expect((await readSecret(REF, { env, stage: 'previous' })).reveal()).toBe(oldToken);
    // Without a terminal and without --yes it asks for confirmation and refuses.
    clari.revoke(oldToken);
    const unconfirmed = await rotate(['--finish']);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('--yes');
    const fin = await rotate(['--finish', '--yes', '--json']);
    expect(fin.code).toBe(0);
    expect(JSON.parse(fin.stdout).outcome).toBe('previous-destroyed');
    const after = await describeSecret(REF, { env });
    expect(after.versions.map((v) => v.stages)).toEqual([['current']]);
    assertNoLeaks();
  }, CLI_TEST_TIMEOUT_MS);

  it('a failing consumer stops before promotion (JSON report on stdout), and --rollback abandons the rotation', async () => {
    const r = await rotate(['--consumers', consumersFile, '--json'], newToken, { CONSUMER_FAIL: '1' });
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.error.code).toBe('consumer_failed');
    expect(report.consumers.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).toEqual([
      ['extractor', false],
      ['airflow-health', true],
    ]);
    expect(r.stderr).toContain('nothing was promoted');
    expect((await readSecret(REF, { env })).reveal()).toBe(oldToken);
    const again = await rotate([], canary('cgthird'));
    expect(again.code).toBe(75);
    expect(again.stderr).toMatch(/already in progress.*--resume.*--rollback/);
    const back = await rotate(['--rollback']);
    expect(back.code, back.stderr).toBe(0);
    const d = await describeSecret(REF, { env });
    expect(d.rotation).toBeNull();
    expect(d.versions.map((v) => v.stages)).toEqual([['current']]);
    assertNoLeaks();
  }, CLI_TEST_TIMEOUT_MS);

  it('survives SIGKILL after each step (create, test, set, promote): --resume completes and a reader never sees a missing or invalid token', async () => {
    const poll = pollCurrentToken(REF, env, clari.url, [oldToken, newToken]);
    // A fresh run killed after create, then each --resume killed after the next checkpoint.
    const crashed = await rotate(['--consumers', consumersFile], newToken, { CLARIGUARD_ROTATE_CRASH_AFTER: 'create' });
    expect(crashed.signal).toBe('SIGKILL');
    expect((await describeSecret(REF, { env })).rotation?.step).toBe('test');
    const shown = await runTraced(['secret', 'describe', REF], env);
    runs.push(shown);
    expect(shown.stdout).toContain('rotation:  in progress, step test');
    const expectedStep = { test: 'set', set: 'finish', promote: 'finish' } as const;
    for (const point of ['test', 'set', 'promote'] as const) {
      const r = await rotate(['--resume', '--consumers', consumersFile], undefined, { CLARIGUARD_ROTATE_CRASH_AFTER: point });
      expect(r.signal, r.stderr).toBe('SIGKILL');
      expect(r.stderr).toContain(`resuming the rotation of ${REF}`);
      const mid = await describeSecret(REF, { env });
      expect(mid.rotation?.step).toBe(expectedStep[point]);
      expect((await readSecret(REF, { env })).reveal()).toBe(point === 'promote' ? newToken : oldToken);
    }
    const resumed = await rotate(['--resume', '--consumers', consumersFile, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const report = JSON.parse(resumed.stdout);
    expect(report.outcome).toBe('rotated');
    expect(report.steps.map((s: { status: string }) => s.status)).toEqual(['already-done', 'already-done', 'already-done', 'already-done']);
    const { reads, problems } = await poll.stop();
    expect(problems).toEqual([]);
    expect(reads).toBeGreaterThan(5);
    expect((await readSecret(REF, { env })).reveal()).toBe(newToken);
    const d = await describeSecret(REF, { env });
    expect(d.rotation).toBeNull();
    expect(d.versions.map((v) => v.stages).sort()).toEqual([['current'], ['previous']]);
    // Only the resume killed after set ran the consumer; later resumes skip the finished step.
    expect(Object.keys(traceFiles()).length).toBe(1);
    assertNoLeaks();
  }, CLI_TEST_TIMEOUT_MS);
});
