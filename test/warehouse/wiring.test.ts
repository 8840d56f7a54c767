import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSandbox, type SandboxHandle } from '../../src/sandbox/index.js';
import { canary, expectNoLeak, expectNoLeakInDir } from '../helpers/canary.js';
import { isolatedEnv, runCli, tempDir } from '../helpers/cli.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { forecastExport } from './fixtures.js';

/** `clariguard redact|export --out <warehouse>`: the real CLI into a real server, secrets never printed. */
let server: PgServer;
let client: pg.Client;
let sb: SandboxHandle;
const tmp = tempDir('clariguard-wh-wiring-');
const token = canary('cgwhtok');
const password = canary('cgwhpw');
const key = randomBytes(32).toString('base64');
let env: Record<string, string | undefined>;
const stage = join(tmp.dir, 'tmp');

beforeAll(async () => {
  server = await startPostgres();
  client = new pg.Client({ connectionString: server.url });
  await client.connect();
  sb = await startSandbox({ token, users: 12, slowJobs: 100 });
  const url = new URL(server.url);
  url.password = password; // trust auth ignores it; it must still never be printed
  mkdirSync(stage, { recursive: true });
  env = isolatedEnv(tmp.dir, { WAREHOUSE_URL: url.toString(), CLARI_TOKEN: token, CG_KEY: key, TMPDIR: stage });
});

afterAll(async () => {
  await sb?.close();
  await client?.end();
  server?.stop();
  tmp.cleanup();
});

function noLeaks(text: string): void {
  for (const s of [token, password, key]) expectNoLeak(text, s);
}

describe('--out to a warehouse', () => {
  test('clariguard redact --out env:WAREHOUSE_URL loads pseudonymised rows, replacing on re-run', async () => {
    const raw = { ...forecastExport, users: forecastExport.users.map((u, i) => ({ ...u, name: `Zoë Example ${i}`, email: `zoe${i}@customer-corp.com` })) };
    const file = join(tmp.dir, 'q3.json');
    writeFileSync(file, JSON.stringify(raw));
    for (let run = 0; run < 2; run++) {
      const r = await runCli(['redact', '--in', file, '--out', 'env:WAREHOUSE_URL', '--key', 'env:CG_KEY'], { env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/loaded job q3 into postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres \(11 rows\)/);
      noLeaks(r.stdout + r.stderr);
    }
    const users = await client.query("SELECT email, name FROM clari.forecast_users WHERE job_id = 'q3'");
    expect(users.rows).toHaveLength(3);
    for (const u of users.rows) {
      expect(u.email).toMatch(/@redacted\.invalid$/);
      expect(`${u.name} ${u.email}`).not.toMatch(/Zoë|customer-corp/);
    }
  });

  test('clariguard export forecast --out env:WAREHOUSE_URL loads the redacted export and leaves no staging file', async () => {
    const args = ['export', 'forecast', 'net_arr', '--period', '2026_Q3', '--token', 'env:CLARI_TOKEN', '--key', 'env:CG_KEY', '--base-url', sb.url, '--out', 'env:WAREHOUSE_URL', '--poll-interval', '50'];
    const r = await runCli([...args, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    noLeaks(r.stdout + r.stderr);
    const summary = JSON.parse(r.stdout);
    expect(summary.warehouse).toMatchObject({ target: expect.stringMatching(/^postgres:\/\/postgres@127\.0\.0\.1/), period: '2026_Q3' });
    const jobId = summary.warehouse.jobId;
    const log = await client.query('SELECT kind, period, row_counts FROM clari.load_log WHERE job_id = $1', [jobId]);
    expect(log.rows[0]).toMatchObject({ kind: 'forecast', period: '2026_Q3' });
    expect(log.rows[0].row_counts.forecast_users).toBe(12);
    const emails = await client.query('SELECT email FROM clari.forecast_users WHERE job_id = $1', [jobId]);
    for (const e of emails.rows) expect(e.email).toMatch(/@redacted\.invalid$/);
    expect(readdirSync(stage).filter((n) => n.startsWith('clariguard-wh-'))).toEqual([]);
    expectNoLeakInDir(tmp.dir, token);
    // --unredacted never goes to a warehouse.
    const raw = await runCli(['export', 'forecast', 'net_arr', '--period', '2026_Q3', '--token', 'env:CLARI_TOKEN', '--base-url', sb.url, '--out', 'env:WAREHOUSE_URL', '--unredacted'], { env });
    expect(raw.code).toBe(2);
    noLeaks(raw.stdout + raw.stderr);
  });
});
