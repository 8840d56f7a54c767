import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canary, expectNoLeak, leakForms } from '../helpers/canary.js';
import { BIN, isolatedEnv, procCmdline, runCli, tempDir } from '../helpers/cli.js';

describe('clariguard run', () => {
  let dir: string;
  let cleanup: () => void;
  let env: Record<string, string | undefined>;
  let token: string;
  beforeEach(async () => {
    ({ dir, cleanup } = tempDir());
    env = isolatedEnv(dir);
    token = canary();
    const set = await runCli(['secret', 'set', 'local:clari/prod/api-token'], { env, input: token });
    expect(set.code).toBe(0);
  });
  afterEach(() => cleanup());

  const node = (code: string) => [process.execPath, '-e', code];

  it('injects the value into the child environment and masks every encoded form on stdout and stderr', async () => {
    const script = `
      const t = process.env.CLARI_API_KEY; const b = Buffer.from(t);
      const forms = [t, b.toString('base64'), b.toString('base64url'), encodeURIComponent(t), b.toString('hex'), b.toString('hex').toUpperCase()];
      console.log('len=' + t.length, forms.join(' '));
      console.error('err', forms.join(' '));
      console.log('basic ' + Buffer.from('user:' + t).toString('base64'));
    `;
    const r = await runCli(['run', '--env', 'CLARI_API_KEY=local:clari/prod/api-token', '--', ...node(script)], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`len=${token.length}`);
    for (const f of leakForms(token)) {
      expect(r.stdout).not.toContain(f);
      expect(r.stderr).not.toContain(f);
    }
    expect(r.stdout).toContain('***');
  });

  it('masks a value written one byte at a time', async () => {
    const script = `
      const t = 'x ' + process.env.CLARI_API_KEY + ' y\\n';
      let i = 0; const tick = () => { if (i < t.length) { process.stdout.write(t[i++]); setImmediate(tick); } }; tick();
    `;
    const r = await runCli(['run', '--env', 'CLARI_API_KEY=local:clari/prod/api-token', '--', ...node(script)], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('x *** y\n');
  });

  it('exits with the child exit code', async () => {
    const r = await runCli(['run', '--env', 'T=local:clari/prod/api-token', '--', ...node('process.exit(7)')], { env });
    expect(r.code).toBe(7);
  });

  it('forwards signals and dies by the same signal', async () => {
    const child = spawn(
      process.execPath,
      [BIN, 'run', '--env', 'T=local:clari/prod/api-token', '--', process.execPath, '-e', 'console.log("ready"); setInterval(() => {}, 1000)'],
      { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    child.kill('SIGTERM');
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('close', (c, s) => r([c, s])));
    expect(signal === 'SIGTERM' || code === 143).toBe(true);
  });

  it('keeps the value out of the argv of clariguard and of the child', async () => {
    const child = spawn(
      process.execPath,
      [BIN, 'run', '--env', 'CLARI_API_KEY=local:clari/prod/api-token', '--', process.execPath, '-e', 'console.log("pid", process.pid); setTimeout(() => {}, 3000)'],
      { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const grandchildPid = await new Promise<number>((resolve) =>
      child.stdout!.on('data', (d: Buffer) => {
        const m = /pid (\d+)/.exec(d.toString());
        if (m) resolve(Number(m[1]));
      }),
    );
    expectNoLeak(procCmdline(child.pid!), token, 'clariguard argv');
    expectNoLeak(procCmdline(grandchildPid), token, 'child argv');
    expect(procCmdline(grandchildPid)).toContain('setTimeout');
    child.kill('SIGTERM');
    await new Promise((r) => child.on('close', r));
  });

  it('registers values with the GitHub Actions mask without echoing them', async () => {
    const r = await runCli(['run', '--env', 'T=local:clari/prod/api-token', '--', ...node('console.log(process.env.T)')], {
      env: { ...env, GITHUB_ACTIONS: 'true' },
    });
    expect(r.code).toBe(0);
    // stdout is the child's data (often redirected to a file): the mask command goes to stderr, which the
    // runner reads for workflow commands too, so the value never lands in `> out.json`.
    expect(r.stdout).toBe('***\n');
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe(`::add-mask::${token}`);
    // The mask command is the only place the value appears: GitHub's runner consumes that line.
    expectNoLeak(lines.slice(1).join('\n') + r.stdout, token);
  });

  it('rejects --env with a literal value instead of a reference, without echoing it', async () => {
    const r = await runCli(['run', '--env', `T=${token}`, '--', 'true'], { env });
    expect(r.code).toBe(2);
    expectNoLeak(r.stdout + r.stderr, token);
  });

  it('does not hand the local store passphrase to the child', async () => {
    const { dir: home, cleanup: done } = tempDir();
    try {
      const pass = canary('pass');
      const penv = isolatedEnv(home, { CLARIGUARD_PASSPHRASE: pass, CLARIGUARD_SCRYPT_WORK_FACTOR: '10' });
      expect((await runCli(['secret', 'set', 'local:t'], { env: penv, input: token })).code).toBe(0);
      const r = await runCli(
        ['run', '--env', 'T=local:t', '--', ...node('console.log(process.env.T.length, JSON.stringify(process.env.CLARIGUARD_PASSPHRASE ?? null))')],
        { env: penv },
      );
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`${token.length} null\n`);
    } finally {
      done();
    }
  });

  it('reports a missing command as 127', async () => {
    const r = await runCli(['run', '--env', 'T=local:clari/prod/api-token', '--', 'definitely-not-a-command-xyz'], { env });
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/command not found/);
  });
});
