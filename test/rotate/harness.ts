import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { rotateToken } from '../../src/rotate/index.js';
import { readSecret, SecretValue } from '../../src/secrets/index.js';
import { procCmdline, spawnCli, type CliResult } from '../helpers/cli.js';
import { findLeak } from '../helpers/canary.js';

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A loopback HTTP server answering with `handler`'s status; closed by `close()`. */
export async function startHttp(handler: (headers: Record<string, string | string[] | undefined>, url: string) => number): Promise<{ url: string; close(): Promise<void>; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const status = handler(req.headers, req.url ?? '/');
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status < 300 ? '{"ok":true}' : '{"code":"unauthorized","message":"bad token"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/**
 * A consumer check script: records its own /proc/self/cmdline, echoes the token it got (rotate must mask
 * it), and passes only when the injected token is the expected (pending) one and the Clari server accepts it.
 */
export function writeConsumerScript(dir: string): string {
  const path = join(dir, 'consumer.mjs');
  writeFileSync(
    path,
    `import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
const token = process.env.CLARI_TOKEN ?? '';
writeFileSync(process.env.CONSUMER_TRACE_DIR + '/cmdline.' + process.pid, readFileSync('/proc/self/cmdline'));
console.log('consumer got token ' + token);
console.error('consumer stderr ' + Buffer.from(token).toString('base64'));
if (process.env.CONSUMER_FAIL === '1') process.exit(7);
if (createHash('sha256').update(token).digest('hex') !== process.env.EXPECT_TOKEN_SHA) process.exit(5);
const r = await fetch(process.env.CLARI_URL + '/admin/limits', { headers: { apikey: token } });
process.exit(r.ok ? 0 : 6);
`,
  );
  return path;
}

export interface TracedRun extends CliResult {
  /** /proc/<pid>/cmdline samples taken while the CLI ran. */
  cmdlines: string[];
}

/** Runs the CLI, sampling its /proc cmdline while it runs. */
export function runTraced(args: string[], env: Record<string, string | undefined>, input?: string): Promise<TracedRun> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, { env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const cmdlines: string[] = [];
    const sample = () => {
      if (child.pid) {
        const c = procCmdline(child.pid);
        if (c) cmdlines.push(c);
      }
    };
    sample();
    const timer = setInterval(sample, 25);
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(timer);
      clearTimeout(killer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), cmdlines });
    });
    child.stdin!.end(input ?? '');
  });
}

/**
 * Reads the current token over and over (as a consumer would between restarts) and checks every value
 * is one of the known good tokens and that Clari accepts it. `stop()` resolves to the number of reads.
 */
export function pollCurrentToken(ref: string, env: Record<string, string | undefined>, clariUrl: string, good: string[]): { stop(): Promise<{ reads: number; problems: string[] }> } {
  let running = true;
  const problems: string[] = [];
  let reads = 0;
  const loop = (async () => {
    while (running) {
      try {
        const v = (await readSecret(ref, { env })).reveal();
        if (!good.includes(v)) problems.push(`read an unexpected value (${v.length} chars)`);
        const r = await fetch(`${clariUrl}/admin/limits`, { headers: { apikey: v } });
        await r.body?.cancel();
        if (!r.ok) problems.push(`Clari rejected the current token: HTTP ${r.status}`);
      } catch (e) {
        problems.push(`read failed: ${(e as Error).message}`);
      }
      reads++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { reads, problems };
    },
  };
}

/** Asserts none of `secrets` appears (in any encoding) in any of `texts`. */
export function leaksIn(texts: Record<string, string | Buffer>, secrets: string[]): string[] {
  const found: string[] = [];
  for (const [where, text] of Object.entries(texts)) for (const s of secrets) if (findLeak(text, s)) found.push(where);
  return found;
}

/**
 * Clari as a rotation sees it: the old token keeps working until it is revoked, the new one works as soon
 * as it was generated. The sandbox accepts a single token, so two real sandboxes (one per token) sit behind
 * a loopback router that picks the sandbox by the `apikey` header; every answer, 401s included, comes from
 * a real sandbox. `revoke(token)` makes the router send that token to the sandbox that never knew it.
 */
export async function startClariForRotation(oldToken: string, newToken: string): Promise<{ url: string; revoke(t: string): void; close(): Promise<void> }> {
  const { startSandbox } = await import('../../src/sandbox/index.js');
  const { request } = await import('node:http');
  const a = await startSandbox({ port: 0, token: oldToken, users: 3, auditEvents: 1, copilotCalls: 1 });
  const b = await startSandbox({ port: 0, token: newToken, users: 3, auditEvents: 1, copilotCalls: 1 });
  const revoked = new Set<string>();
  const pick = (t: string | undefined) => {
    if (t === oldToken && !revoked.has(t)) return a;
    if (t === newToken && !revoked.has(t)) return b;
    return t === oldToken ? b : a;
  };
  const server = createServer((req, res) => {
    const target = new URL(pick(req.headers.apikey as string | undefined).url);
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${new URL(a.url).pathname.replace(/\/$/, '')}`,
    revoke: (t) => revoked.add(t),
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await a.close();
      await b.close();
    },
  };
}

/**
 * Rotates `ref` to `newToken` with a validator that passes, and requires that readers get `oldToken` after
 * every step before promote (an untested token is never current), then the new token as current and the old
 * one as previous.
 */
export async function expectOldTokenCurrentUntilPromote(ref: string, env: Record<string, string | undefined>, oldToken: string, newToken: string): Promise<void> {
  const seen: string[] = [];
  await rotateToken(ref, {
    env,
    newToken: new SecretValue(newToken),
    validator: async () => ({ ok: true, detail: 'ok' }),
    afterStep: async (c) => {
      if (c !== 'promote') seen.push(`${c}:${(await readSecret(ref, { env })).reveal() === oldToken ? 'old' : 'new'}`);
    },
  });
  expect(seen).toEqual(['create:old', 'test:old', 'set:old']);
  expect((await readSecret(ref, { env })).reveal()).toBe(newToken);
  expect((await readSecret(ref, { env, stage: 'previous' })).reveal()).toBe(oldToken);
}
