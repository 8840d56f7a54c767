import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canary, expectNoLeak } from '../helpers/canary.js';
import { BIN, isolatedEnv, runCli, tempDir } from '../helpers/cli.js';

/** Runs the CLI on a pseudo-terminal (util-linux `script`), typing `answers` at its prompts. */
function onTty(args: string[], env: Record<string, string | undefined>, answers: string[]): Promise<{ code: number | null; screen: string }> {
  return new Promise((resolve) => {
    const cmd = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const p = spawn('script', ['-qfec', cmd, '/dev/null'], { env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let next = 0;
    const onData = (d: Buffer) => {
      screen += d.toString();
      const prompts = (screen.match(/(Value for [^:]+:|Again, to confirm:)/g) ?? []).length;
      while (next < answers.length && next < prompts) p.stdin!.write(`${answers[next++]}\r`);
    };
    p.stdout!.on('data', onData);
    p.stderr!.on('data', onData);
    p.on('close', (code) => {
      p.stdin!.end();
      resolve({ code, screen });
    });
  });
}

describe('hidden prompt on a TTY', () => {
  let dir: string;
  let cleanup: () => void;
  let env: Record<string, string | undefined>;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    env = isolatedEnv(dir);
  });
  afterEach(() => cleanup());

  it('asks twice without echoing and stores the value', async () => {
    const token = canary();
    const r = await onTty(['secret', 'set', 'local:tty/token'], env, [token, token]);
    expect(r.code).toBe(0);
    expect(r.screen).toMatch(/Again, to confirm/);
    expectNoLeak(r.screen, token, 'the terminal');
    const reveal = await runCli(['secret', 'get', 'local:tty/token', '--reveal'], { env });
    expect(reveal.stdout).toBe(`${token}\n`);
  });

  it('stores nothing when the two entries differ', async () => {
    const r = await onTty(['secret', 'set', 'local:tty/token'], env, [canary(), canary()]);
    expect(r.code).toBe(2);
    expect(r.screen).toMatch(/differ/);
    const get = await runCli(['secret', 'get', 'local:tty/token'], { env });
    expect(get.code).toBe(66);
  });
});
