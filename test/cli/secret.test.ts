import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canary, expectNoLeak, expectNoLeakInDir } from '../helpers/canary.js';
import { isolatedEnv, runCli, tempDir } from '../helpers/cli.js';

describe('clariguard secret (CLI)', () => {
  let dir: string;
  let cleanup: () => void;
  let env: Record<string, string | undefined>;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    env = isolatedEnv(dir);
  });
  afterEach(() => cleanup());

  it('set reads stdin, get masks, --reveal prints the raw value; the canary never leaks elsewhere', async () => {
    const token = canary();
    const set = await runCli(['secret', 'set', 'local:clari/prod/api-token'], { env, input: `${token}\n` });
    expect(set.code).toBe(0);
    expect(set.stderr).toMatch(/stored local:clari\/prod\/api-token/);
    expectNoLeak(set.stdout + set.stderr, token);

    const get = await runCli(['secret', 'get', 'local:clari/prod/api-token'], { env });
    expect(get.code).toBe(0);
    expect(get.stdout.trim()).toBe(`${token.slice(0, 2)}****…**${token.slice(-2)}`);
    expectNoLeak(get.stdout + get.stderr, token);

    const reveal = await runCli(['secret', 'get', 'local:clari/prod/api-token', '--reveal'], { env });
    expect(reveal.stdout).toBe(`${token}\n`);

    const describeRun = await runCli(['secret', 'describe', 'local:clari/prod/api-token', '--json'], { env });
    expect(describeRun.code).toBe(0);
    const d = JSON.parse(describeRun.stdout);
    expect(Object.keys(d)).toEqual(expect.arrayContaining(['ref', 'backend', 'versions', 'rotatedAt', 'ageDays', 'tags']));
    expect(d).toMatchObject({ ref: 'local:clari/prod/api-token', backend: 'local', ageDays: 0, tags: {} });
    expect(d.versions[0]).toMatchObject({ stages: ['current'] });
    expect(Object.keys(d.versions[0])).toEqual(['id', 'stages', 'createdAt']);
    expectNoLeak(describeRun.stdout, token);

    const list = await runCli(['secret', 'list', '--json'], { env });
    expect(JSON.parse(list.stdout)).toEqual({ secrets: ['local:clari/prod/api-token'] });

    expectNoLeakInDir(dir, token);

    const rm = await runCli(['secret', 'rm', 'local:clari/prod/api-token'], { env });
    expect(rm.code).toBe(0);
    const gone = await runCli(['secret', 'get', 'local:clari/prod/api-token'], { env });
    expect(gone.code).toBe(66);
    expect(gone.stderr).toMatch(/no such secret/);
  });

  it('accepts --from-file and has no flag that takes the value in argv', async () => {
    const token = canary();
    const file = join(dir, 'token.txt');
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    const set = await runCli(['secret', 'set', 'local:x/y', '--from-file', file], { env });
    expect(set.code).toBe(0);
    const reveal = await runCli(['secret', 'get', 'local:x/y', '--reveal'], { env });
    expect(reveal.stdout).toBe(`${token}\n`);
    const bad = await runCli(['secret', 'set', 'local:x/y', '--value', token], { env });
    expect(bad.code).toBe(2);
    const help = await runCli(['secret', 'set', '--help'], { env });
    expect(help.code).toBe(0);
    expect(help.stdout).not.toMatch(/--value/);
  });

  it('--from-file: a missing file is exit 66, an oversized file exit 65 naming it, and nothing is stored', async () => {
    const missing = await runCli(['secret', 'set', 'local:x/y', '--from-file', join(dir, 'nope.txt')], { env });
    expect(missing.code).toBe(66);
    expect(missing.stderr).toMatch(/nope\.txt/);
    const big = join(dir, 'big.txt');
    writeFileSync(big, 'x'.repeat(200 * 1024));
    const tooBig = await runCli(['secret', 'set', 'local:x/y', '--from-file', big], { env, timeoutMs: 20_000 });
    expect(tooBig.code).toBe(65);
    expect(tooBig.stderr).toMatch(/big\.txt/);
    expect(tooBig.stderr.trim().split('\n')).toHaveLength(1);
    // An endless source (a device, or a pipe such as <(cmd) that never ends) stops at the limit too.
    const endless = await runCli(['secret', 'set', 'local:x/y', '--from-file', '/dev/zero'], { env, timeoutMs: 20_000 });
    expect(endless.code).toBe(65);
    // Piped stdin over the limit is the same bad input (it was a usage error, exit 2).
    const piped = await runCli(['secret', 'set', 'local:x/y'], { env, input: 'x'.repeat(200 * 1024), timeoutMs: 20_000 });
    expect(piped.code).toBe(65);
    expect(piped.stderr.trim().split('\n')).toHaveLength(1);
    expect(piped.stderr).toMatch(/<stdin>.*larger than/);
    expect((await runCli(['secret', 'list', '--json'], { env })).stdout).not.toMatch(/x\/y/);
  });

  it('copies between references without the value touching argv or output', async () => {
    const token = canary();
    const copy = await runCli(['secret', 'copy', 'env:CLARI_API_KEY', 'local:clari/prod/api-token'], {
      env: { ...env, CLARI_API_KEY: token },
    });
    expect(copy.code).toBe(0);
    expectNoLeak(copy.stdout + copy.stderr, token);
    const reveal = await runCli(['secret', 'get', 'local:clari/prod/api-token', '--reveal'], { env });
    expect(reveal.stdout).toBe(`${token}\n`);
  });

  it('reads env: references and refuses to write them', async () => {
    const token = canary();
    const get = await runCli(['secret', 'describe', 'env:CLARI_API_KEY', '--json'], { env: { ...env, CLARI_API_KEY: token } });
    expect(JSON.parse(get.stdout)).toMatchObject({ backend: 'env', rotatedAt: null, ageDays: null });
    const set = await runCli(['secret', 'set', 'env:CLARI_API_KEY'], { env, input: token });
    expect(set.code).toBe(2);
    expect(set.stderr).toMatch(/read-only/);
    expectNoLeak(get.stderr + set.stdout + set.stderr, token);
  });

  it('has no pending or previous version of a read-only env:/dotenv: value (never the current one instead)', async () => {
    const token = canary();
    writeFileSync(join(dir, 'app.env'), `CLARI_API_KEY=${token}\n`, { mode: 0o600 });
    for (const ref of ['env:CLARI_API_KEY', `dotenv:${join(dir, 'app.env')}#CLARI_API_KEY`]) {
      for (const stage of ['previous', 'pending']) {
        const r = await runCli(['secret', 'get', ref, '--stage', stage, '--reveal'], { env: { ...env, CLARI_API_KEY: token } });
        expect(r.code, `${ref} ${stage}`).toBe(66);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(new RegExp(`no ${stage} version`));
        expectNoLeak(r.stderr, token);
      }
    }
  });

  it('gives one-line errors with usage and data exit codes', async () => {
    const unknown = await runCli(['secret', 'get', 's3://x'], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    const empty = await runCli(['secret', 'set', 'local:a'], { env, input: '' });
    expect(empty.code).toBe(2);
    const nul = await runCli(['secret', 'set', 'local:a'], { env, input: Buffer.from([0x61, 0x00, 0x62]) });
    expect(nul.code).toBe(65);
    const badUtf8 = await runCli(['secret', 'set', 'local:a'], { env, input: Buffer.from([0xff, 0xfe, 0x41]) });
    expect(badUtf8.code).toBe(65);
    expect(badUtf8.stderr).toMatch(/<stdin>.*UTF-8/);
  });

  it('rejects an unknown --stage as a usage error (exit 2), not as a missing secret', async () => {
    const token = canary();
    await runCli(['secret', 'set', 'local:a/b'], { env, input: token });
    const bad = await runCli(['secret', 'get', 'local:a/b', '--stage', 'curent'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/curent/);
    expect(bad.stderr).toMatch(/current.*pending.*previous/);
    expectNoLeak(bad.stdout + bad.stderr, token);
    const prev = await runCli(['secret', 'get', 'local:a/b', '--stage', 'previous'], { env });
    expect(prev.code).toBe(66);
  });

  it('reports a corrupt store clearly (exit 78) and leaves it in place', async () => {
    await runCli(['secret', 'set', 'local:a/b'], { env, input: canary() });
    writeFileSync(join(dir, 'clariguard', 'store.age'), 'garbage');
    const r = await runCli(['secret', 'get', 'local:a/b'], { env });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/corrupt or not an age file/);
  });
});
