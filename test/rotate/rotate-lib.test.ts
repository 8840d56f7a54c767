import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  finishRotation,
  resumeRotation,
  rollbackRotation,
  rotateToken,
  RotationError,
  type RotationReport,
} from '../../src/rotate/index.js';
import { describeSecret, readSecret, SecretValue, writeSecret } from '../../src/secrets/index.js';
import { ROTATED_AT_TAG } from '../../src/secrets/journal.js';
import { canary, expectNoLeakInDir } from '../helpers/canary.js';
import { isolatedEnv, tempDir } from '../helpers/cli.js';
import { startClariForRotation, leaksIn, sha256, writeConsumerScript } from './harness.js';

const REF = 'local:clari/prod/api-token';

let tmp: { dir: string; cleanup: () => void };
let clari: Awaited<ReturnType<typeof startClariForRotation>>;
let oldToken: string;
let newToken: string;
let env: Record<string, string | undefined>;
let consumersFile: string;
let messages: string[];
let consumerOut: Buffer[];

const sink = () =>
  new Writable({
    write(chunk: Buffer, _enc, cb) {
      consumerOut.push(chunk);
      cb();
    },
  });

function opts(extraEnv: Record<string, string> = {}) {
  return {
    env: { ...env, ...extraEnv },
    baseUrl: clari.url,
    onMessage: (l: string) => messages.push(l),
    consumerOutput: sink(),
  };
}

async function failure(p: Promise<unknown>): Promise<RotationError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RotationError);
    messages.push((e as Error).message);
    return e as RotationError;
  }
  throw new Error('expected the rotation to fail');
}

beforeAll(async () => {
});
afterAll(async () => {
  await clari?.close();
  tmp?.cleanup();
});

beforeEach(async () => {
  tmp?.cleanup();
  tmp = tempDir('clariguard-rotlib-');
  oldToken = canary('cgold');
  newToken = canary('cgnew');
  await clari?.close();
  clari = await startClariForRotation(oldToken, newToken);
  messages = [];
  consumerOut = [];
  mkdirSync(join(tmp.dir, 'trace'));
  env = isolatedEnv(tmp.dir, { CONSUMER_TRACE_DIR: join(tmp.dir, 'trace'), EXPECT_TOKEN_SHA: sha256(newToken), CLARI_URL: clari.url });
  const script = writeConsumerScript(tmp.dir);
  consumersFile = join(tmp.dir, 'consumers.yml');
  writeFileSync(consumersFile, `consumers:\n  - name: extractor\n    command: [node, ${JSON.stringify(script)}]\n    env: CLARI_TOKEN\n    timeout: 20s\n`);
  await writeSecret(REF, oldToken, { env });
});

function assertNoLeaks(): void {
  const trace = Object.fromEntries(readdirSync(join(tmp.dir, 'trace')).map((f) => [f, readFileSync(join(tmp.dir, 'trace', f))]));
  expect(leaksIn({ messages: messages.join('\n'), consumerOutput: Buffer.concat(consumerOut), ...trace }, [oldToken, newToken])).toEqual([]);
  expectNoLeakInDir(tmp.dir, oldToken);
  expectNoLeakInDir(tmp.dir, newToken);
}

describe('rotation library (local store, Clari over loopback HTTP)', () => {
  it('rejects a token Clari answers 401 for, leaving the store exactly as it was', async () => {
    clari.revoke(newToken);
    const before = await describeSecret(REF, { env });
    const e = await failure(rotateToken(REF, { ...opts(), consumers: consumersFile, newToken: new SecretValue(newToken) }));
    expect(e.exitCode).toBe(77);
    expect(e.code).toBe('token_rejected');
    expect(e.message).toMatch(/Clari rejected the new token \(HTTP 401 /);
    expect(e.message).toContain('current token is unchanged');
    expect(await describeSecret(REF, { env })).toEqual(before);
    expect(readdirSync(join(tmp.dir, 'trace'))).toEqual([]); // no consumer ran
    assertNoLeaks();
  });

  it('refuses the current token as the new one, and asks for the token only after the pre-checks', async () => {
    const before = await describeSecret(REF, { env });
    const e = await failure(rotateToken(REF, { ...opts(), newToken: new SecretValue(oldToken) }));
    expect(e.exitCode).toBe(2);
    expect(e.code).toBe('same_token');
    expect(await describeSecret(REF, { env })).toEqual(before);
    const missing = await rotateToken('local:clari/none', { ...opts(), newToken: async () => { throw new Error('must not be asked'); } }).catch((x: Error) => x);
    expect((missing as { exitCode?: number }).exitCode).toBe(66);
  });

  it('a failing consumer stops before promotion; a second rotation is refused; --resume after the fix promotes', async () => {
    const e = await failure(rotateToken(REF, { ...opts({ CONSUMER_FAIL: '1' }), consumers: consumersFile, newToken: new SecretValue(newToken) }));
    expect(e.exitCode).toBe(1);
    expect(e.code).toBe('consumer_failed');
    expect(e.report?.consumers).toEqual([expect.objectContaining({ name: 'extractor', ok: false, detail: 'exit 7' })]);
    expect(Buffer.concat(consumerOut).toString()).toContain('consumer got token');
    expect((await readSecret(REF, { env })).reveal()).toBe(oldToken);
    expect((await describeSecret(REF, { env })).rotation?.step).toBe('set');

    const busy = await failure(rotateToken(REF, { ...opts(), newToken: new SecretValue(canary('cgthird')) }));
    expect(busy.exitCode).toBe(75);
    expect(busy.message).toMatch(/--resume.*--rollback/);
    const noConsumers = await failure(resumeRotation(REF, opts()));
    expect(noConsumers.message).toContain('pass the same --consumers file');

    const report = await resumeRotation(REF, { ...opts(), consumers: consumersFile });
    expect(report.outcome).toBe('rotated');
    expect(report.consumers.map((c) => c.ok)).toEqual([true]);
    expect((await readSecret(REF, { env })).reveal()).toBe(newToken);
    assertNoLeaks();
  });

  it('a consumer that hangs is killed at its timeout and counts as failed', async () => {
    const slow = join(tmp.dir, 'slow.yml');
    writeFileSync(slow, `consumers:\n  - name: hang\n    command: [node, -e, "setTimeout(() => {}, 60000)"]\n    env: CLARI_TOKEN\n    timeout: 300ms\n`);
    const e = await failure(rotateToken(REF, { ...opts(), consumers: slow, newToken: new SecretValue(newToken) }));
    expect(e.report?.consumers[0]).toMatchObject({ name: 'hang', ok: false, detail: 'timed out after 300 ms' });
    expect((await readSecret(REF, { env })).reveal()).toBe(oldToken);
  });

  it('rollback abandons a rotation in progress, swaps back after a completed one, and never restores a revoked token', async () => {
    await failure(rotateToken(REF, { ...opts({ CONSUMER_FAIL: '1' }), consumers: consumersFile, newToken: new SecretValue(newToken) }));
    const abandoned = await rollbackRotation(REF, opts());
    expect(abandoned.outcome).toBe('abandoned');
    let d = await describeSecret(REF, { env });
    expect(d.rotation).toBeNull();
    expect(d.versions.map((v) => v.stages)).toEqual([['current']]);
    const firstRotatedAt = d.rotatedAt;

    const done: RotationReport = await rotateToken(REF, { ...opts(), consumers: consumersFile, newToken: new SecretValue(newToken) });
    expect(done.nextAction).toContain('Settings → API Token');
    const back = await rollbackRotation(REF, opts());
    expect(back.outcome).toBe('rolled-back');
    expect((await readSecret(REF, { env })).reveal()).toBe(oldToken);
    expect((await readSecret(REF, { env, stage: 'previous' })).reveal()).toBe(newToken);
    d = await describeSecret(REF, { env });
    expect(d.tags[ROTATED_AT_TAG]).toBe(firstRotatedAt); // the restored token keeps its own age
    expect(d.rotatedAt).toBe(firstRotatedAt); // what the audit's token-age check reads

    clari.revoke(newToken);
    const refused = await failure(rollbackRotation(REF, opts()));
    expect(refused.code).toBe('previous_rejected');
    expect((await readSecret(REF, { env })).reveal()).toBe(oldToken);
    assertNoLeaks();
  });

  it('finish destroys the previous version only once Clari rejects it and the user confirms', async () => {
    await rotateToken(REF, { ...opts(), newToken: new SecretValue(newToken) });
    const still = await failure(finishRotation(REF, { ...opts(), confirmRevoked: true }));
    expect(still.code).toBe('previous_not_revoked');
    clari.revoke(oldToken);
    const no = await failure(finishRotation(REF, { ...opts(), confirmRevoked: async () => false }));
    expect(no.code).toBe('not_confirmed');
    expect((await readSecret(REF, { env, stage: 'previous' })).reveal()).toBe(oldToken);
    const ok = await finishRotation(REF, { ...opts(), confirmRevoked: async () => true });
    expect(ok.outcome).toBe('previous-destroyed');
    expect((await describeSecret(REF, { env })).versions.map((v) => v.stages)).toEqual([['current']]);
    expect((await finishRotation(REF, { ...opts(), confirmRevoked: true })).outcome).toBe('nothing-to-do');
    const nothing = await failure(rollbackRotation(REF, opts()));
    expect(nothing.code).toBe('no_previous');
    assertNoLeaks();
  });

  it('refuses a plain-http --base-url to another host before storing anything, and a token pasted into a command', async () => {
    const before = await describeSecret(REF, { env });
    const e = await rotateToken(REF, { ...opts(), baseUrl: 'http://clari.example.com/v4', newToken: new SecretValue(newToken) }).catch((x: { exitCode: number }) => x);
    expect((e as { exitCode: number }).exitCode).toBe(2);
    expect(await describeSecret(REF, { env })).toEqual(before);
    const pasted = await failure(
      rotateToken(REF, {
        ...opts(),
        consumers: [{ kind: 'command', name: 'pasted', command: ['node', '-e', '0', newToken], env: 'T', cwd: tmp.dir, timeoutMs: 5000 }],
        newToken: new SecretValue(newToken),
      }),
    );
    expect(pasted.report?.consumers[0]).toMatchObject({ ok: false, detail: 'the token appears in the command line; pass it through "env" only' });
  });

  it('resumes a run interrupted inside create: adopts a stored pending version, or asks for the token again', async () => {
    const { openSecret } = await import('../../src/secrets/index.js');
    const { journalToTag } = await import('../../src/secrets/journal.js');
    const { ref, backend } = openSecret(REF, { env });
    const currentId = (await describeSecret(REF, { env })).versions[0].id;
    const now = new Date().toISOString();
    const journal = { step: 'create' as const, previousVersionId: currentId, startedAt: now, updatedAt: now };
    // Journal written, pending never stored (the crash came first).
    await backend.setTags(ref, journalToTag(journal));
    const noToken = await failure(resumeRotation(REF, opts()));
    expect(noToken.message).toContain('give it again on stdin');
    const r1 = await resumeRotation(REF, { ...opts(), newToken: new SecretValue(newToken) });
    expect(r1.steps.map((s) => `${s.step}:${s.status}`)).toEqual(['create:done', 'test:done', 'set:done', 'finish:done']);
    expect((await readSecret(REF, { env })).reveal()).toBe(newToken);

    // Pending stored together with a step-create journal, but its id never recorded.
    const third = canary('cgthird');
    const before = (await describeSecret(REF, { env })).versions.find((v) => v.stages.includes('current'))!.id;
    await backend.write(ref, new SecretValue(third), { stage: 'pending', tags: journalToTag({ ...journal, previousVersionId: before }) });
    const r2 = await resumeRotation(REF, { ...opts(), validator: async () => ({ ok: true }) });
    expect(r2.steps[0]).toMatchObject({ step: 'create', status: 'already-done' });
    expect((await readSecret(REF, { env })).reveal()).toBe(third);
  });

  it('an unreachable Clari leaves the rotation at step test, resumable', async () => {
    const e = await rotateToken(REF, { ...opts(), baseUrl: 'http://127.0.0.1:9/v4', newToken: new SecretValue(newToken) }).catch((x: Error & { exitCode: number }) => x);
    expect((e as { exitCode: number }).exitCode).toBe(69);
    expect((e as Error).message).toMatch(/kept at step test: run clariguard rotate .* --resume/);
    expect((await describeSecret(REF, { env })).rotation?.step).toBe('test');
    expect((await readSecret(REF, { env })).reveal()).toBe(oldToken);
    const r = await resumeRotation(REF, opts());
    expect(r.outcome).toBe('rotated');
  });
});

describe('rotation lock', () => {
  it('refuses a second rotate, resume, finish or rollback of the same secret while one runs, with a lock error', async () => {
    let release!: (v: SecretValue) => void;
    let asked!: () => void;
    const waiting = new Promise<void>((r) => (asked = r));
    // The first rotation is waiting for its token (a prompt): nothing is in the store's journal yet.
    const first = rotateToken(REF, { ...opts(), consumers: consumersFile, newToken: () => { asked(); return new Promise<SecretValue>((r) => (release = r)); } });
    await waiting;
    for (const second of [
      rotateToken(REF, { ...opts(), consumers: consumersFile, newToken: new SecretValue(newToken) }),
      resumeRotation(REF, { ...opts(), consumers: consumersFile }),
      finishRotation(REF, { ...opts(), confirmRevoked: true, skipRevocationCheck: true }),
      rollbackRotation(REF, { ...opts(), skipTokenCheck: true }),
    ]) {
      const e = await failure(second);
      expect(e.code).toBe('locked');
      expect(e.exitCode).toBe(75);
      expect(e.message).toMatch(/another clariguard rotate \(pid \d+/);
    }
    release(new SecretValue(newToken));
    const r = await first;
    expect(r.outcome).toBe('rotated');
    expect((await readSecret(REF, { env })).reveal()).toBe(newToken);
    // Released: the next command on the secret runs.
    expect((await rollbackRotation(REF, { ...opts(), skipTokenCheck: true })).outcome).toBe('rolled-back');
    assertNoLeaks();
  });

  it('takes over the lock of a process that died (SIGKILL leaves the file behind)', async () => {
    const { clariguardHome } = await import('../../src/util/paths.js');
    const { rotationLockPath } = await import('../../src/rotate/lock.js');
    const { parseSecretRef } = await import('../../src/secrets/ref.js');
    const path = rotationLockPath(parseSecretRef(REF), env);
    expect(path.startsWith(clariguardHome(env))).toBe(true);
    mkdirSync(join(path, '..'), { recursive: true });
    // A pid that cannot be alive.
    writeFileSync(path, JSON.stringify({ pid: 2 ** 22 + 17, host: (await import('node:os')).hostname(), startedAt: new Date().toISOString() }));
    const r = await rotateToken(REF, { ...opts(), consumers: consumersFile, newToken: new SecretValue(newToken) });
    expect(r.outcome).toBe('rotated');
    expect(readdirSync(join(path, '..'))).toEqual([]);
  });
});
