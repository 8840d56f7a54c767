import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ClariApiError, createClariClient, normaliseJob, parseRetryAfter, backoffDelay, resolveRetry, RateLimiter } from '../../src/clari/index.js';
import { ResultsVerifier, periodFromFileName } from '../../src/clari/verify.js';
import { SecretValue } from '../../src/secrets/value.js';
import { startSandbox, type SandboxHandle, type SandboxOptions } from '../../src/sandbox/index.js';
import { canary, expectNoLeak } from '../helpers/canary.js';

const fast = { baseDelayMs: 20, maxDelayMs: 2000, totalTimeoutMs: 20_000 };
let sandboxes: SandboxHandle[] = [];

async function sandbox(o: Partial<SandboxOptions> = {}): Promise<{ sb: SandboxHandle; token: string }> {
  const token = canary('cgclari');
  const sb = await startSandbox({ token, users: 20, slowJobs: 50, ...o });
  sandboxes.push(sb);
  return { sb, token };
}

afterEach(async () => {
  await Promise.all(sandboxes.map((s) => s.close()));
  sandboxes = [];
});

async function text(r: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

describe('Clari client against the sandbox', () => {
  it('reads limits, runs a forecast job, streams the results', async () => {
    const { sb, token } = await sandbox();
    const c = createClariClient({ baseUrl: sb.url, token: new SecretValue(token), retry: fast });
    const l = await c.getLimits();
    expect(l).toMatchObject({ concurrentLimit: 3, monthlyQuota: 1000, availableMonthlyQuota: 1000 });
    const { jobId } = await c.startForecastExport('net_arr', { timePeriod: '2026_Q3', typesToExport: ['forecast', 'quota'] });
    const job = await c.waitForJob(jobId, { pollIntervalMs: 20 });
    expect(job.status).toBe('DONE');
    expect(periodFromFileName(job.fileName)).toBe('2026_Q3');
    const dl = await c.openResults(jobId);
    expect(dl.stream).toBeInstanceOf(Readable);
    const doc = JSON.parse(await text(dl.stream));
    expect(doc.entries.length).toBe(20 * 4); // 20 users x (3 call fields + 1 quota field) x 1 week
    expect(doc.timePeriods[0].timePeriodId).toBe('2026_Q3');
    expect((await c.getLimits()).availableMonthlyQuota).toBe(999);
    expect((await c.listJobs()).map((j) => j.jobId)).toEqual([jobId]);
  });

  it('accepts both the bare and the {"job":{...}} job status shapes', async () => {
    const { sb, token } = await sandbox({ wrapJobStatus: true });
    const c = createClariClient({ baseUrl: sb.url, token: new SecretValue(token), retry: fast });
    const { jobId } = await c.startForecastExport('net_arr', { timePeriod: '2026_Q3' });
    const job = await c.getJob(jobId);
    expect(job.jobId).toBe(jobId);
    expect(['SCHEDULED', 'STARTED', 'DONE']).toContain(job.status);
    expect(normaliseJob({ jobId: 'x', status: 'RUNNING' }, 'op').status).toBe('STARTED');
    expect(() => normaliseJob({ nothing: true }, 'op')).toThrow(ClariApiError);
  });

  it('401 is a ClariApiError without the token in it', async () => {
    const { sb, token } = await sandbox();
    const wrong = canary('cgwrong');
    const c = createClariClient({ baseUrl: sb.url, token: new SecretValue(wrong), retry: fast });
    const e = (await c.getLimits().catch((x: unknown) => x)) as ClariApiError;
    expect(e).toBeInstanceOf(ClariApiError);
    expect(e.status).toBe(401);
    expect(e.code).toBe('unauthorized');
    expect(e.exitCode).toBe(77);
    expectNoLeak(e.message, wrong);
    expectNoLeak(e.message, token);
    expectNoLeak(String(e.stack), wrong);
  });

  it('carries Clari error codes with a what-to-do hint', async () => {
    const { sb, token } = await sandbox({ monthlyQuota: 1 });
    const c = createClariClient({ baseUrl: sb.url, token: new SecretValue(token), retry: fast });
    const e1 = (await c.startForecastExport('no_such_tab', {}).catch((x: unknown) => x)) as ClariApiError;
    expect(e1.code).toBe('no_such_forecast_config');
    expect(e1.status).toBe(400);
    expect(e1.message).toMatch(/Forecast Tab URL/);
    const e2 = (await c.startForecastExport('net_arr', { typesToExport: ['crm_total'] }).catch((x: unknown) => x)) as ClariApiError;
    expect(e2.code).toBe('type_not_supported');
    const e3 = (await c.startForecastExport('net_arr', { scopeId: '99999::MGR' }).catch((x: unknown) => x)) as ClariApiError;
    expect([e3.status, e3.code]).toEqual([401, 'no_optin']);
    await c.startForecastExport('net_arr', {});
    const e4 = (await c.startForecastExport('net_arr', {}).catch((x: unknown) => x)) as ClariApiError;
    expect(e4.code).toBe('export_monthly_quota_reached');
    expect(e4.exitCode).toBe(75);
    expect(sb.stats().jobsCreated).toBe(1);
  });

  it('honours Retry-After on 429 and succeeds', async () => {
    const { sb, token } = await sandbox({ rateLimit: 2 });
    const retries: number[] = [];
    const c = createClariClient({ baseUrl: sb.url, token: new SecretValue(token), retry: fast, onRetry: (i) => retries.push(i.delayMs) });
    for (let i = 0; i < 5; i++) await c.getLimits();
    expect(sb.stats().rateLimited).toBeGreaterThan(0);
    // Retry-After: 1 means at least a second, not the 20 ms backoff step.
    expect(Math.min(...retries)).toBeGreaterThanOrEqual(1000);
  });

  it('retries injected 5xx and ends with the right answer', async () => {
    const { sb, token } = await sandbox({ failRate: 0.4, seed: 7 });
    const c = createClariClient({ baseUrl: sb.url, token: new SecretValue(token), retry: fast });
    const { jobId } = await c.startForecastExport('net_arr', { timePeriod: '2026_Q3' });
    const job = await c.waitForJob(jobId, { pollIntervalMs: 20 });
    expect(job.status).toBe('DONE');
    expect(sb.stats().faultsInjected).toBeGreaterThan(0);
    expect(sb.stats().jobsCreated).toBe(1);
  });

  it('gives up within the total time budget', async () => {
    const { sb, token } = await sandbox({ failRate: 1 });
    const c = createClariClient({ baseUrl: sb.url, token: new SecretValue(token), retry: { baseDelayMs: 50, totalTimeoutMs: 400 } });
    const t0 = Date.now();
    const e = (await c.getLimits().catch((x: unknown) => x)) as ClariApiError;
    expect(e).toBeInstanceOf(ClariApiError);
    expect(e.status).toBeGreaterThanOrEqual(500);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('does not retry a job-creating POST after a 500 (it may have been queued)', async () => {
    let posts = 0;
    const fakeFetch = (async (_u: URL, init: RequestInit) => {
      if (init.method === 'POST') posts++;
      return new Response(JSON.stringify({ code: 'internal_server_error', message: 'boom' }), { status: 500 });
    }) as unknown as typeof fetch;
    const c = createClariClient({ baseUrl: 'https://api.clari.com/v4', token: new SecretValue(canary()), fetch: fakeFetch, retry: fast });
    await expect(c.startForecastExport('net_arr', {})).rejects.toMatchObject({ code: 'internal_server_error', status: 500 });
    expect(posts).toBe(1);
  });

  it('cancels a running job and frees its quota', async () => {
    const { sb, token } = await sandbox({ slowJobs: 60_000 });
    const c = createClariClient({ baseUrl: sb.url, token: new SecretValue(token), retry: fast });
    const { jobId } = await c.startForecastExport('net_arr', {});
    expect((await c.getLimits()).availableMonthlyQuota).toBe(999);
    expect(await c.cancelJob(jobId)).toMatchObject({ successful: true });
    expect((await c.getLimits()).availableMonthlyQuota).toBe(1000);
    expect(['CANCELLED', 'ABORTED']).toContain((await c.getJob(jobId)).status);
  });

  it('detects a results body cut short', async () => {
    const { sb, token } = await sandbox({ truncateResults: true, users: 200 });
    const c = createClariClient({ baseUrl: sb.url, token: new SecretValue(token), retry: fast });
    const { jobId } = await c.startForecastExport('net_arr', { timePeriod: '2026_Q3' });
    await c.waitForJob(jobId, { pollIntervalMs: 20 });
    const dl = await c.openResults(jobId);
    await expect(text(dl.stream)).rejects.toMatchObject({ code: 'results_truncated' });
  });

  it('pages audit events by nextLink and refuses a nextLink to another host', async () => {
    const { sb, token } = await sandbox({ auditEvents: 250 });
    const c = createClariClient({ baseUrl: sb.url, token: new SecretValue(token), retry: fast });
    let n = 0;
    let pages = 0;
    for await (const p of c.auditEvents({ limit: 100 })) {
      n += p.items.length;
      pages++;
      expect(p.actors.length).toBeGreaterThan(0);
    }
    expect([n, pages]).toEqual([250, 3]);

    const evil = (async () =>
      new Response(JSON.stringify({ items: [{ actorId: '1' }], actors: [], nextLink: 'https://evil.example/audit/events?page=2' }), { status: 200 })) as unknown as typeof fetch;
    const c2 = createClariClient({ baseUrl: 'https://api.clari.com/v4', token: new SecretValue(canary()), fetch: evil, retry: fast });
    const it2 = c2.auditEvents();
    await it2.next();
    await expect(it2.next()).rejects.toMatchObject({ code: 'untrusted_next_link' });
  });

  it('pages Copilot calls with skip/limit under 10 requests per second', async () => {
    const { sb, token } = await sandbox({ copilotCalls: 250, copilotPassword: 'pw-sandbox-1234' });
    const c = createClariClient({
      baseUrl: sb.url,
      token: new SecretValue(token),
      copilotBaseUrl: sb.copilotUrl,
      copilotKey: new SecretValue(token),
      copilotPassword: new SecretValue('pw-sandbox-1234'),
      retry: fast,
    });
    let n = 0;
    for await (const page of c.copilotCalls({ limit: 100 })) n += page.length;
    expect(n).toBe(250);
    const bad = createClariClient({ baseUrl: sb.url, token: new SecretValue(token), copilotBaseUrl: sb.copilotUrl, copilotKey: new SecretValue(token), copilotPassword: new SecretValue('nope-nope'), retry: fast });
    await expect(bad.copilotCalls().next()).rejects.toMatchObject({ status: 401 });
  });

  it('never follows a redirect (the apikey header would go with it) and does not retry it', async () => {
    const { createServer } = await import('node:http');
    let hits = 0;
    const srv = createServer((_q, r) => {
      hits++;
      r.writeHead(302, { location: 'http://127.0.0.1:9/steal' });
      r.end();
    });
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
    try {
      const port = (srv.address() as { port: number }).port;
      const c = createClariClient({ baseUrl: `http://127.0.0.1:${port}/v4`, token: new SecretValue(canary()), retry: fast });
      const e = (await c.getLimits().catch((x: unknown) => x)) as Error;
      expect(e).toMatchObject({ code: 'unexpected_redirect' });
      // One "check --base-url", from the hint: the message does not repeat it.
      expect(e.message.match(/check --base-url/g)).toHaveLength(1);
      expect(hits).toBe(1);
    } finally {
      srv.close();
    }
  });

  it('refuses plain http to a non-loopback host and credentials in the URL', () => {
    const token = new SecretValue(canary());
    expect(() => createClariClient({ baseUrl: 'http://api.clari.com/v4', token })).toThrow(/https/);
    expect(() => createClariClient({ baseUrl: 'https://u:p@api.clari.com/v4', token })).toThrow(/credentials/);
    expect(createClariClient({ baseUrl: 'https://api.clari.com', token }).baseUrl).toBe('https://api.clari.com/v4');
    expect(createClariClient({ token }).baseUrl).toBe('https://api.clari.com/v4');
  });
});

describe('retry arithmetic', () => {
  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
  });
  it('backs off exponentially with jitter, capped', () => {
    const r = resolveRetry({ baseDelayMs: 100, maxDelayMs: 1000, random: () => 1 });
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, r))).toEqual([100, 200, 400, 800, 1000, 1000]);
    const low = resolveRetry({ baseDelayMs: 100, maxDelayMs: 1000, random: () => 0 });
    expect(backoffDelay(2, low)).toBe(100);
  });
  it('waits at least Retry-After even past the backoff cap, and gives up when it exceeds the total budget', async () => {
    const answers = (retryAfter: string): typeof fetch => {
      let n = 0;
      return async () => (n++ === 0 ? new Response('{"error":"API rate limit exceeded"}', { status: 429, headers: { 'retry-after': retryAfter } }) : new Response('{"jobs":{}}', { status: 200 }));
    };
    const waits: number[] = [];
    const c = createClariClient({ baseUrl: 'http://127.0.0.1:9/v4', token: new SecretValue(canary('cgra')), fetch: answers('1'), retry: { baseDelayMs: 10, maxDelayMs: 100, totalTimeoutMs: 10_000 }, onRetry: (i) => waits.push(i.delayMs) });
    await c.getLimits();
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(1000);
    const impatient = createClariClient({ baseUrl: 'http://127.0.0.1:9/v4', token: new SecretValue(canary('cgra')), fetch: answers('600'), retry: { baseDelayMs: 10, maxDelayMs: 100, totalTimeoutMs: 5_000 } });
    await expect(impatient.getLimits()).rejects.toMatchObject({ code: 'rate_limited', exitCode: 75 });
  });
  it('limits request starts per second', async () => {
    const l = new RateLimiter(10);
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 15 }, () => l.acquire()));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });
});

describe('results verification', () => {
  async function run(body: string[], o: ConstructorParameters<typeof ResultsVerifier>[0]): Promise<string> {
    const v = new ResultsVerifier(o);
    return text(Readable.from(body.map((s) => Buffer.from(s))).pipe(v));
  }
  it('passes a complete document and sees its periods across chunk borders', async () => {
    const doc = '{"entries":[{"timePeriodId":"2026_Q3"}],"timePeriods":[{"timePeriodId":"2026_Q3"}]}';
    const split = [doc.slice(0, 17), doc.slice(17, 30), doc.slice(30)];
    expect(await run(split, { format: 'json', expectedPeriod: '2026_Q3' })).toBe(doc);
  });
  it('counts records for progress: array elements (JSON) and rows after the header (CSV)', async () => {
    const seen: number[] = [];
    const doc = '{"entries":[{"a":{"b":1}},{"a":2}],"users":[{"n":"[{"}],"x":{"y":[{}]}}';
    await run([doc.slice(0, 20), doc.slice(20)], { format: 'json', onProgress: (p) => seen.push(p.records) });
    expect(seen.at(-1)).toBe(3);
    const rows: number[] = [];
    await run(['User,Email\r\na,b\r\n', 'c,d\r\n'], { format: 'csv', onProgress: (p) => rows.push(p.records) });
    expect(rows).toEqual([1, 2]);
  });
  it('reads the period from file names as the spec shows them (digits right after the quarter)', () => {
    // GET /export/jobs/{jobId} example in the Revenue OpenAPI document.
    expect(periodFromFileName('clari_export_forecast_total_new_2021_Q12915_20210415_015255.json')).toBe('2021_Q1');
    expect(periodFromFileName('clari_export_forecast_net_arr_2026_Q3_20261130_000252.csv')).toBe('2026_Q3');
    expect(periodFromFileName('clari_export_default-view_20180118_004234.json')).toBeUndefined();
  });
  it('fails on another period (Clari fell back to the current quarter)', async () => {
    const doc = '{"entries":[],"timePeriods":[{"timePeriodId":"2026_Q4"}]}';
    await expect(run([doc], { format: 'json', expectedPeriod: '2026_Q3' })).rejects.toMatchObject({ code: 'period_mismatch' });
    await expect(run(['[{"timePeriod":"2025_Q1","ownerName":"x"}]'], { format: 'json', expectedPeriod: '2026_Q3' })).rejects.toMatchObject({ code: 'period_mismatch' });
  });
  it('tracks strings with escaped quotes and backslashes across every chunk border', async () => {
    const doc = JSON.stringify({ entries: [{ a: 'x\\"}', b: '\\\\', c: '\\', d: '{[' }], timePeriods: [{ timePeriodId: '2026_Q3' }] });
    for (let cut = 1; cut < doc.length; cut++) {
      expect(await run([doc.slice(0, cut), doc.slice(cut)], { format: 'json', expectedPeriod: '2026_Q3' })).toBe(doc);
    }
    await expect(run([doc.slice(0, -2)], { format: 'json' })).rejects.toMatchObject({ code: 'results_truncated' });
  });
  it('fails on a document that ends early, even cleanly', async () => {
    await expect(run(['{"entries":[{"a":"}"'], { format: 'json' })).rejects.toMatchObject({ code: 'results_truncated' });
    await expect(run([''], { format: 'json' })).rejects.toMatchObject({ code: 'results_truncated' });
    await expect(run(['{}{}'], { format: 'json' })).rejects.toMatchObject({ code: 'bad_response' });
  });
});

describe('export journal', () => {
  it('keeps the journalled job when a status answer arrives garbled, so the next run resumes it without a second job', async () => {
    const { exportForecast } = await import('../../src/clari/export.js');
    const { mkdtempSync, readdirSync, rmSync, existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { randomBytes } = await import('node:crypto');
    const { sb, token } = await sandbox();
    const dir = mkdtempSync(join(tmpdir(), 'clariguard-journal-'));
    try {
      let garble = true;
      const flaky: typeof fetch = async (input, init) => {
        const res = await fetch(input, init);
        if (garble && /\/export\/jobs\/[^/]+$/.test(new URL(String(input)).pathname)) {
          garble = false;
          return new Response('{"jobId":"', { status: 200, headers: { 'content-type': 'application/json' } });
        }
        return res;
      };
      const o = {
        token: new SecretValue(token),
        baseUrl: sb.url,
        forecastId: 'net_arr',
        period: '2026_Q3',
        out: join(dir, 'q3.json'),
        redaction: { mode: 'redact' as const, key: randomBytes(32) },
        stateDir: join(dir, 'state'),
        fetch: flaky,
        retry: fast,
        poll: { intervalMs: 20 },
      };
      await expect(exportForecast(o)).rejects.toMatchObject({ code: 'bad_response' });
      expect(existsSync(o.out)).toBe(false);
      expect(readdirSync(o.stateDir).filter((n) => n.endsWith('.json'))).toHaveLength(1);
      const r = await exportForecast(o);
      expect(r.resumed).toBe(true);
      expect(sb.stats().jobsCreated).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
