import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeSecret, readSecret, writeSecret } from '../../src/secrets/index.js';
import { runCliOnTty } from '../helpers/tty.js';
import { canary, expectNoLeak, expectNoLeakInDir } from '../helpers/canary.js';
import { isolatedEnv, tempDir } from '../helpers/cli.js';
import { startClariForRotation } from './harness.js';

// Each test spawns the CLI several times; on a loaded 2-core machine a spawn can take seconds.
const CLI_TEST_TIMEOUT_MS = 240_000;

const REF = 'local:clari/prod/api-token';
const PROMPTS = /(New Clari token for [^:]+:|Again, to confirm:|Did you revoke the old token[^?]*\? \[y\/N\])/g;

const onTty = (args: string[], env: Record<string, string | undefined>, answers: string[]) => runCliOnTty(args, env, answers, PROMPTS);

describe('rotate on a terminal', () => {
  let tmp: { dir: string; cleanup: () => void };
  let clari: Awaited<ReturnType<typeof startClariForRotation>>;
  let env: Record<string, string | undefined>;
  let oldToken: string;
  let newToken: string;
  beforeEach(async () => {
    tmp = tempDir('clariguard-rottty-');
    env = isolatedEnv(tmp.dir);
    oldToken = canary('cgold');
    newToken = canary('cgnew');
    clari = await startClariForRotation(oldToken, newToken);
    await writeSecret(REF, oldToken, { env });
  });
  afterEach(async () => {
    await clari.close();
    tmp.cleanup();
  });

  it('reads the new token from a hidden prompt asked twice, and --finish asks for confirmation', async () => {
    const r = await onTty(['rotate', REF, '--base-url', clari.url], env, [newToken, newToken]);
    expect(r.code, r.screen).toBe(0);
    expect(r.screen).toMatch(/Again, to confirm/);
    expect((await readSecret(REF, { env })).reveal()).toBe(newToken);

    clari.revoke(oldToken);
    const no = await onTty(['rotate', REF, '--base-url', clari.url, '--finish'], env, ['n']);
    expect(no.code).toBe(2);
    expect(no.screen).toContain('not confirmed');
    expect((await describeSecret(REF, { env })).versions).toHaveLength(2);
    const yes = await onTty(['rotate', REF, '--base-url', clari.url, '--finish'], env, ['y']);
    expect(yes.code, yes.screen).toBe(0);
    expect((await describeSecret(REF, { env })).versions).toHaveLength(1);
    for (const s of [oldToken, newToken]) {
      for (const run of [r, no, yes]) expectNoLeak(run.screen, s, 'the terminal');
      expectNoLeakInDir(tmp.dir, s);
    }
  }, CLI_TEST_TIMEOUT_MS);
});
