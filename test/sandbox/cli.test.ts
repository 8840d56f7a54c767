import { describe, expect, it } from 'vitest';
import { canary, expectNoLeak } from '../helpers/canary.js';
import { isolatedEnv, procCmdline, runCli, spawnCli, tempDir } from '../helpers/cli.js';

/** `clariguard sandbox` as a user runs it: token on stdin, URL on stdout, stopped with SIGTERM. */
describe('clariguard sandbox', () => {
  it('prints the URL of a free port, accepts only its token, stops cleanly', async () => {
    const token = canary('cgsandbox');
    const { dir, cleanup } = tempDir();
    try {
      const child = spawnCli(['sandbox', '--port', '0', '--users', '10', '--seed', '5'], { env: isolatedEnv(dir) });
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const closed = new Promise<number | null>((res) => child.on('close', (c) => res(c)));
      child.stdin!.end(`${token}\n`);
      const deadline = Date.now() + 30_000;
      while (!out.includes('\n')) {
        if (Date.now() > deadline) throw new Error(`no URL printed: ${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const url = out.trim();
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v4$/);
      expect(Number(new URL(url).port)).toBeGreaterThan(0);
      const ok = await fetch(`${url}/admin/limits`, { headers: { apikey: token } });
      expect(ok.status).toBe(200);
      const bad = await fetch(`${url}/admin/limits`, { headers: { apikey: `${token}x` } });
      expect(bad.status).toBe(401);
      expect(await bad.json()).toEqual({ message: 'Invalid authentication credentials' });
      expectNoLeak(procCmdline(child.pid!), token, 'argv');
      child.kill('SIGTERM');
      expect(await closed).toBe(0);
      expectNoLeak(out, token, 'stdout');
      expectNoLeak(err, token, 'stderr');
      expect(err).toMatch(/sandbox stopped: \d+ requests/);
    } finally {
      cleanup();
    }
  });

  it('--also-accept takes more tokens from secret references, never showing them', async () => {
    const [first, second] = [canary('cgfirst'), canary('cgsecond')];
    const { dir, cleanup } = tempDir();
    const env = isolatedEnv(dir);
    try {
      for (const [ref, v] of [['local:sb/first', first], ['local:sb/second', second]]) {
        expect((await runCli(['secret', 'set', ref], { env, input: v })).code).toBe(0);
      }
      const child = spawnCli(['sandbox', '--port', '0', '--users', '5', '--token-ref', 'local:sb/first', '--also-accept', 'local:sb/second'], { env });
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const closed = new Promise<number | null>((res) => child.on('close', (c) => res(c)));
      child.stdin!.end();
      const deadline = Date.now() + 30_000;
      while (!out.includes('\n')) {
        if (Date.now() > deadline) throw new Error(`no URL printed: ${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const url = out.trim();
      for (const t of [first, second]) expect((await fetch(`${url}/admin/limits`, { headers: { apikey: t } })).status).toBe(200);
      expect((await fetch(`${url}/admin/limits`, { headers: { apikey: canary() } })).status).toBe(401);
      for (const t of [first, second]) expectNoLeak(procCmdline(child.pid!), t, 'argv');
      child.kill('SIGTERM');
      expect(await closed).toBe(0);
      for (const t of [first, second]) {
        expectNoLeak(out, t, 'stdout');
        expectNoLeak(err, t, 'stderr');
      }
    } finally {
      cleanup();
    }
  });

  it('rejects out-of-range fault settings', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const child = spawnCli(['sandbox', '--fail-rate', '2'], { env: isolatedEnv(dir) });
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      child.stdin!.end('some-token-value\n');
      const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
      expect(code).toBe(2);
      expect(err).toMatch(/--fail-rate must be a number between 0 and 1/);
    } finally {
      cleanup();
    }
  });
});
