import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle, type SandboxOptions } from '../../src/sandbox/index.js';
import { canary, expectNoLeak, expectNoLeakInDir } from '../helpers/canary.js';
import { isolatedEnv, procCmdline, runCli, spawnCli, tempDir, type CliResult } from '../helpers/cli.js';

/**
 * `clariguard export` end to end: the real CLI (dist/) against the sandbox over real HTTP. Every run checks
 * the canary rule: the token never appears in stdout, stderr, any file written, or the CLI's argv.
 */
interface Ctx {
  sb: SandboxHandle;
  token: string;
  key: string;
  dir: string;
  out: (name: string) => string;
  env: Record<string, string | undefined>;
  stateDir: string;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup(o: Partial<SandboxOptions> = {}, cliToken?: string): Promise<Ctx> {
  const token = canary('cgexport');
  const key = randomBytes(32).toString('base64');
  const sb = await startSandbox({ token, users: 25, slowJobs: 100, ...o });
  const { dir, cleanup } = tempDir('clariguard-export-');
  cleanups.push(() => sb.close(), cleanup);
  const env = isolatedEnv(dir, { CLARI_TOKEN: cliToken ?? token, CG_KEY: key });
  return { sb, token, key, dir, out: (n) => join(dir, n), env, stateDir: join(dir, 'clariguard', 'state', 'exports') };
}

function forecastArgs(c: Ctx, out: string, extra: string[] = []): string[] {
  return ['export', 'forecast', 'net_arr', '--period', '2026_Q3', '--token', 'env:CLARI_TOKEN', '--key', 'env:CG_KEY', '--base-url', c.sb.url, '--out', out, '--poll-interval', '50', ...extra];
}

function checkNoLeak(c: Ctx, r: CliResult, extraSecrets: string[] = []): void {
  for (const s of [c.token, c.key, ...extraSecrets]) {
    expectNoLeak(r.stdout, s, 'stdout');
    expectNoLeak(r.stderr, s, 'stderr');
    expectNoLeakInDir(c.dir, s);
  }
}

function visibleFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n !== 'clariguard');
}

describe('clariguard export against the sandbox', () => {
  it('exports a forecast as json, ndjson and csv, redacted, atomically, with mode 0600', async () => {
    const c = await setup();
    const raw = await fetch(`${c.sb.url}/admin/limits`, { headers: { apikey: c.token } });
    expect(raw.status).toBe(200);
    for (const format of ['json', 'ndjson', 'csv']) {
      const out = c.out(`q3.${format}`);
      const r = await runCli(forecastArgs(c, out, ['--format', format, '--types', 'forecast,quota', '--json']), { env: c.env });
      expect(r.code, r.stderr).toBe(0);
      checkNoLeak(c, r);
      const summary = JSON.parse(r.stdout);
      expect(summary).toMatchObject({ kind: 'forecast', format, period: '2026_Q3', redacted: true, resumed: false });
      expect(statSync(out).mode & 0o777).toBe(0o600);
      const text = readFileSync(out, 'utf8');
      // No real (sandbox) email, name or CRM id survives: only pseudonyms.
      expect(text).not.toMatch(/-sandbox\.example/);
      expect(text).toMatch(/@redacted\.invalid/);
      if (format === 'json') {
        const doc = JSON.parse(text);
        expect(doc.entries).toHaveLength(25 * 4);
        expect(doc.users[0].email).toMatch(/@redacted\.invalid$/);
        expect(doc.users[0].crmId).toMatch(/^Crm-/);
      } else if (format === 'ndjson') {
        const lines = text.trim().split('\n').map((l) => JSON.parse(l));
        expect(lines.filter((l) => l._type === 'entry')).toHaveLength(100);
        expect(lines.filter((l) => l._type === 'user')).toHaveLength(25);
      } else {
        const lines = text.trim().split(/\r?\n/);
        expect(lines[0]).toBe('User,Email,CRM User ID,Role,Parent Role,Timeframe,Field,Week,Start Day,End Day,Data Type,Data Value');
        expect(lines).toHaveLength(1 + 100);
        expect(lines[1]).toMatch(/^Person-/);
      }
    }
    expect(visibleFiles(c.dir).sort()).toEqual(['q3.csv', 'q3.json', 'q3.ndjson']);
    expect(readdirSync(c.stateDir)).toEqual([]); // journal removed after success
    expect(c.sb.stats().jobsCreated).toBe(3);
  });

  it('exports activity (ndjson) and audit events (csv)', async () => {
    const c = await setup({ auditEvents: 300 });
    const a = await runCli(
      ['export', 'activity', '--from', '2026-10-01', '--to', '2026-10-31', '--types', 'MEETING,EMAIL_SENT', '--token', 'env:CLARI_TOKEN', '--key', 'env:CG_KEY', '--base-url', c.sb.url, '--out', c.out('act.ndjson'), '--format', 'ndjson', '--poll-interval', '50'],
      { env: c.env },
    );
    expect(a.code, a.stderr).toBe(0);
    checkNoLeak(c, a);
    const acts = readFileSync(c.out('act.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(acts.length).toBeGreaterThan(0);
    expect(acts.every((x) => x._type === 'activity' && ['MEETING', 'EMAIL_SENT'].includes(x.activityType))).toBe(true);
    expect(JSON.stringify(acts)).not.toMatch(/-sandbox\.example/);

    const e = await runCli(['export', 'audit-events', '--page-size', '100', '--token', 'env:CLARI_TOKEN', '--key', 'env:CG_KEY', '--base-url', c.sb.url, '--out', c.out('audit.csv'), '--format', 'csv'], { env: c.env });
    expect(e.code, e.stderr).toBe(0);
    checkNoLeak(c, e);
    const rows = readFileSync(c.out('audit.csv'), 'utf8').trim().split(/\r?\n/);
    expect(rows[0]).toMatch(/^eventTimestamp,event,actorType,actorId/);
    expect(rows).toHaveLength(301);
    expect(rows[1]).toMatch(/Ip-/);
    expect(c.sb.stats().jobsCreated).toBe(1); // audit events come from the paged API, no job
  });

  it('exports Copilot calls (json, ndjson, csv), redacted, with the Copilot key and password only as references', async () => {
    const password = canary('cgcopilotpw');
    const c = await setup({ copilotCalls: 230, copilotPassword: password });
    const env = { ...c.env, CP_KEY: c.token, CP_PASSWORD: password };
    const args = (out: string, extra: string[] = []) => ['export', 'copilot-calls', '--copilot-key', 'env:CP_KEY', '--copilot-password', 'env:CP_PASSWORD', '--copilot-base-url', c.sb.copilotUrl, '--key', 'env:CG_KEY', '--out', c.out(out), ...extra];
    const j = await runCli(args('calls.json', ['--page-size', '50']), { env });
    expect(j.code, j.stderr).toBe(0);
    checkNoLeak(c, j, [password]);
    const doc = JSON.parse(readFileSync(c.out('calls.json'), 'utf8')) as { calls: Record<string, unknown>[] };
    expect(doc.calls).toHaveLength(230);
    const text = JSON.stringify(doc);
    // Participants' names, emails and phone numbers are pseudonymised; the sandbox's domains are gone.
    expect(text).not.toMatch(/-sandbox\.example|@(?!redacted\.invalid)[a-z0-9-]+\.[a-z]/);
    expect(text).not.toMatch(/\+1 555 01\d\d/);
    expect(statSync(c.out('calls.json')).mode & 0o777).toBe(0o600);
    const v = await runCli(['verify-redaction', c.out('calls.json')], { env });
    expect(v.code, v.stdout).toBe(0);

    const nd = await runCli(args('calls.ndjson', ['--format', 'ndjson']), { env });
    expect(nd.code, nd.stderr).toBe(0);
    const lines = readFileSync(c.out('calls.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(230);
    expect(lines.every((x) => x._type === 'call')).toBe(true);
    const csv = await runCli(args('calls.csv', ['--format', 'csv']), { env });
    expect(csv.code, csv.stderr).toBe(0);
    const rows = readFileSync(c.out('calls.csv'), 'utf8').trim().split(/\r?\n/);
    expect(rows[0]).toMatch(/^id,title,type,status,time,duration/);
    expect(rows).toHaveLength(231);
    for (const r of [nd, csv]) checkNoLeak(c, r, [password]);
    expect(c.sb.stats().jobsCreated).toBe(0); // the paged API, no export job
    // Into a warehouse: the calls and their users and external participants, redacted, nothing skipped.
    const wh = await runCli([...args('x', []).map((a) => (a === c.out('x') ? `pglite:${c.out('wh')}` : a)), '--json'], { env });
    expect(wh.code, wh.stderr).toBe(0);
    expect(wh.stderr).not.toMatch(/not loaded/);
    const load = JSON.parse(wh.stdout).warehouse as { rowCounts: Record<string, number>; skippedSections: Record<string, number> };
    expect(load.rowCounts).toMatchObject({ copilot_calls: 230, copilot_call_users: 230, copilot_call_external_participants: 230 });
    expect(load.skippedSections).toEqual({});
    checkNoLeak(c, wh, [password]);

    // A wrong password: the Copilot 401, one line, no file, neither secret anywhere.
    const wrong = canary('cgwrongpw');
    const bad = await runCli(args('bad.json'), { env: { ...env, CP_PASSWORD: wrong } });
    expect(bad.code).toBe(77);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/401.*--copilot-key and --copilot-password/);
    expect(existsSync(c.out('bad.json'))).toBe(false);
    checkNoLeak(c, bad, [password, wrong]);
  });

  it('waits out 429 with Retry-After and succeeds', async () => {
    const c = await setup({ rateLimit: 2 });
    const r = await runCli(forecastArgs(c, c.out('f.json')), { env: c.env });
    expect(r.code, r.stderr).toBe(0);
    expect(c.sb.stats().rateLimited).toBeGreaterThan(0);
    checkNoLeak(c, r);
  });

  it('retries 5xx and succeeds without creating a second job', async () => {
    const c = await setup({ failRate: 0.35, seed: 11 });
    const r = await runCli(forecastArgs(c, c.out('f.json')), { env: c.env });
    expect(r.code, r.stderr).toBe(0);
    expect(c.sb.stats().faultsInjected).toBeGreaterThan(0);
    expect(c.sb.stats().jobsCreated).toBe(1);
    checkNoLeak(c, r);
  });

  it('a failed job: clear error, no file, no journal left', async () => {
    const c = await setup({ failJobs: 1 });
    const r = await runCli(forecastArgs(c, c.out('f.json')), { env: c.env });
    expect(r.code).toBe(69);
    expect(r.stderr).toMatch(/job_failed/);
    expect(r.stderr.trim().split('\n').pop()).toMatch(/^clariguard: Clari/);
    expect(visibleFiles(c.dir)).toEqual([]);
    expect(readdirSync(c.stateDir)).toEqual([]);
    checkNoLeak(c, r);
  });

  it('a truncated download is detected and leaves no output file', async () => {
    const c = await setup({ truncateResults: true, users: 300 });
    const r = await runCli(forecastArgs(c, c.out('f.json')), { env: c.env });
    expect(r.code).toBe(69);
    expect(r.stderr).toMatch(/results_truncated/);
    expect(visibleFiles(c.dir)).toEqual([]); // neither the target nor a temp file
    expect(readdirSync(c.stateDir)).toHaveLength(1); // kept: running again resumes the same job
    checkNoLeak(c, r);
  });

  it('a wrong token: clear 401 error, neither token anywhere', async () => {
    const wrong = canary('cgwrongtok');
    const c = await setup({}, wrong);
    const r = await runCli(forecastArgs(c, c.out('f.json')), { env: c.env });
    expect(r.code).toBe(77);
    expect(r.stderr).toMatch(/401/);
    expect(r.stderr).toMatch(/--token/);
    expect(visibleFiles(c.dir)).toEqual([]);
    checkNoLeak(c, r, [wrong]);
    expect(c.sb.stats().jobsCreated).toBe(0);
  });

  it('resumes the same job after being killed between job start and download', async () => {
    const c = await setup({ slowJobs: 5000 });
    const out = c.out('f.json');
    const child = spawnCli(forecastArgs(c, out), { env: c.env });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((res) => child.on('close', () => res()));
    const deadline = Date.now() + 20_000;
    const journals = (): string[] => (existsSync(c.stateDir) ? readdirSync(c.stateDir).filter((n) => n.endsWith('.json') && !n.startsWith('.')) : []);
    while (!(c.sb.stats().jobsCreated === 1 && journals().length === 1)) {
      if (Date.now() > deadline) throw new Error(`job never started: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // Canary rule for argv: the token is passed by reference only.
    const argv = procCmdline(child.pid!);
    expect(argv).toMatch(/env:CLARI_TOKEN/);
    expectNoLeak(argv, c.token, 'argv');
    const journal = readFileSync(join(c.stateDir, journals()[0]), 'utf8');
    expect(JSON.parse(journal)).toMatchObject({ kind: 'forecast', request: { forecastId: 'net_arr', timePeriod: '2026_Q3' } });
    expect(journal).not.toMatch(/https?:/);
    child.kill('SIGKILL');
    await exited;
    expect(existsSync(out)).toBe(false);

    const r = await runCli(forecastArgs(c, out), { env: c.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resuming export job/);
    expect(c.sb.stats().jobsCreated).toBe(1);
    expect(JSON.parse(readFileSync(out, 'utf8')).entries.length).toBeGreaterThan(0);
    expect(journals()).toEqual([]);
    checkNoLeak(c, r);
    expectNoLeak(stderr, c.token, 'stderr of the killed run');
  });

  it('a concurrent run of the same export is refused; SIGTERM aborts cleanly: no file, journal kept', async () => {
    const c = await setup({ slowJobs: 15_000 });
    const out = c.out('f.json');
    const child = spawnCli(forecastArgs(c, out), { env: c.env });
    const code = new Promise<number | null>((res) => child.on('close', (x) => res(x)));
    const deadline = Date.now() + 20_000;
    while (c.sb.stats().jobsCreated < 1) {
      if (Date.now() > deadline) throw new Error('job never started');
      await new Promise((r) => setTimeout(r, 50));
    }
    // The same export started again meanwhile neither starts a second job nor touches the file.
    const second = await runCli(forecastArgs(c, out), { env: c.env });
    expect(second.code).toBe(75);
    expect(second.stderr).toMatch(/another clariguard export of the same request is running/);
    expect(c.sb.stats().jobsCreated).toBe(1);
    child.kill('SIGTERM');
    expect(await code).toBe(143);
    expect(visibleFiles(c.dir)).toEqual([]);
    expect(readdirSync(c.stateDir)).toHaveLength(1);
  });

  it('detects Clari falling back to the current quarter for an unknown period', async () => {
    const c = await setup();
    const r = await runCli(forecastArgs(c, c.out('f.json')).map((a) => (a === '2026_Q3' ? '2019_Q1' : a)), { env: c.env });
    expect(r.code).toBe(65);
    expect(r.stderr).toMatch(/period_mismatch/);
    expect(r.stderr).toMatch(/2019_Q1/);
    expect(visibleFiles(c.dir)).toEqual([]);
    checkNoLeak(c, r);
  });

  it('fails clearly and spends nothing when no quota is left', async () => {
    const c = await setup({ monthlyQuota: 0 });
    const r = await runCli(forecastArgs(c, c.out('f.json')), { env: c.env });
    expect(r.code).toBe(75);
    expect(r.stderr).toMatch(/export_monthly_quota_reached/);
    expect(c.sb.stats().jobsCreated).toBe(0);
  });

  it('export limits, jobs and cancel', async () => {
    const c = await setup({ slowJobs: 60_000 });
    const started = await fetch(`${c.sb.url}/export/forecast/net_arr`, { method: 'POST', headers: { apikey: c.token } });
    const { jobId } = (await started.json()) as { jobId: string };
    const common = ['--token', 'env:CLARI_TOKEN', '--base-url', c.sb.url];
    const limits = await runCli(['export', 'limits', ...common, '--json'], { env: c.env });
    expect(limits.code, limits.stderr).toBe(0);
    expect(JSON.parse(limits.stdout)).toMatchObject({ monthlyQuota: 1000, availableMonthlyQuota: 999, runningJobIds: [jobId] });
    const jobs = await runCli(['export', 'jobs', ...common, '--json'], { env: c.env });
    expect(JSON.parse(jobs.stdout).jobs).toEqual([expect.objectContaining({ jobId, module: 'FORECAST' })]);
    const cancel = await runCli(['export', 'cancel', jobId, ...common], { env: c.env });
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stderr).toMatch(/CANCELLED/);
    for (const r of [limits, jobs, cancel]) checkNoLeak(c, r);
  });

  it('--unredacted warns, and refuses to write inside a git work tree', async () => {
    const c = await setup();
    const repo = join(c.dir, 'repo');
    mkdirSync(repo);
    spawnSync('git', ['init', '-q', repo]);
    const base = forecastArgs(c, join(repo, 'raw.json')).filter((a, i, all) => a !== '--key' && all[i - 1] !== '--key');
    const refused = await runCli([...base, '--unredacted'], { env: c.env });
    expect(refused.code).toBe(77);
    expect(refused.stderr).toMatch(/git work tree/);
    expect(readdirSync(repo).filter((n) => n !== '.git')).toEqual([]);
    expect(c.sb.stats().jobsCreated).toBe(0);

    const outside = base.map((a) => (a.endsWith('raw.json') ? c.out('raw.json') : a));
    const ok = await runCli([...outside, '--unredacted'], { env: c.env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/warning: writing an UNREDACTED/);
    expect(readFileSync(c.out('raw.json'), 'utf8')).toMatch(/-sandbox\.example/);
    expectNoLeak(ok.stderr, c.token);
    expectNoLeakInDir(c.dir, c.token);
  });
});
