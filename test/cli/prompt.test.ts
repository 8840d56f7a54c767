import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliOnTty } from '../helpers/tty.js';
import { canary, expectNoLeak } from '../helpers/canary.js';
import { isolatedEnv, runCli, tempDir } from '../helpers/cli.js';

const onTty = (args: string[], env: Record<string, string | undefined>, answers: string[]) => runCliOnTty(args, env, answers, /(Value for [^:]+:|Again, to confirm:)/);

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
