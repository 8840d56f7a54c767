import { existsSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { keyIdOf } from '../../src/redact/pseudonym.js';
import { isWarehouseTarget, loadRecordsIntoWarehouse, openWarehouse, redactIntoWarehouse, resolveWarehouseTarget, stageExportForWarehouse, type WarehouseRecord } from '../../src/warehouse/index.js';
import { canary, expectNoLeak } from '../helpers/canary.js';
import { isolatedEnv, runCli, tempDir } from '../helpers/cli.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { activityExport, auditExport, flatEntries, forecastCsv, forecastExport, sectionsOf, type Rec } from './fixtures.js';

const fieldsOnly = { fields: forecastExport.fields };

let server: PgServer;
let client: pg.Client;
const tmp = tempDir('clariguard-wh-load-');

beforeAll(async () => {
  server = await startPostgres();
  client = new pg.Client({ connectionString: server.url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  server?.stop();
  tmp.cleanup();
});

const count = async (table: string, job?: string): Promise<number> =>
  Number((await client.query(`SELECT count(*) AS n FROM clari.${table}${job ? ' WHERE job_id = $1' : ''}`, job ? [job] : [])).rows[0].n);

async function* slowly(records: Rec[], failAt?: number): AsyncGenerator<WarehouseRecord> {
  let i = 0;
  for (const r of records) {
    if (i++ === failAt) throw new Error('source stream broke');
    yield r;
  }
}

describe('isWarehouseTarget', () => {
  test('URLs, pglite and secret references are warehouses; files are not', () => {
    expect(isWarehouseTarget('postgres://u@h/db')).toBe(true);
    expect(isWarehouseTarget('postgresql://u@h/db')).toBe(true);
    expect(isWarehouseTarget('pglite:./wh')).toBe(true);
    expect(isWarehouseTarget('env:WAREHOUSE_URL')).toBe(true);
    expect(isWarehouseTarget('out.json')).toBe(false);
    expect(isWarehouseTarget('./exports/forecast.csv')).toBe(false);
  });
});

describe('PostgreSQL sink', () => {
  test('loads every export shape into its normalised tables', async () => {
    const f = await loadRecordsIntoWarehouse({ target: server.url, records: sectionsOf(forecastExport), kind: 'forecast', jobId: 'f1', keyId: 'k123abc' });
    expect(f.rowCounts).toEqual({ forecast_entries: 3, forecast_users: 3, forecast_fields: 2, forecast_time_periods: 1, forecast_time_frames: 2 });
    expect(f.period).toBe('2026_Q3');
    const a = await loadRecordsIntoWarehouse({ target: server.url, records: sectionsOf(activityExport), kind: 'activity', jobId: 'a1' });
    expect(a.rowCounts).toEqual({ activities: 2, activity_participants: 2, activity_accounts: 1, activity_opportunities: 1 });
    const au = await loadRecordsIntoWarehouse({ target: server.url, records: sectionsOf(auditExport), kind: 'audit', jobId: 'au1' });
    expect(au.rowCounts).toEqual({ audit_events: 2, audit_actors: 1 });
    const fl = await loadRecordsIntoWarehouse({ target: server.url, records: flatEntries.map((record) => ({ section: null, record })), kind: 'flat', jobId: 'fl1' });
    expect(fl.rowCounts).toEqual({ flat_entries: 2 });
    expect(fl.period).toBe('2026_Q3');

    const e = await client.query("SELECT user_id, forecast_value, quota_value, currency_code, is_updated, extra FROM clari.forecast_entries WHERE job_id = 'f1' ORDER BY user_id");
    expect(e.rows[0]).toMatchObject({ user_id: 'u1', forecast_value: '125000.5', quota_value: '400000', currency_code: 'USD', is_updated: true, extra: null });
    // A bucketed amount does not fit numeric: the column is NULL and the value is kept in extra, with unknown fields.
    expect(e.rows[1]).toMatchObject({ forecast_value: '98000', quota_value: null, is_updated: false, extra: { quotaValue: '100000-1000000', note: 'comma, "quoted"\nand newline' } });
    expect(e.rows[2]).toMatchObject({ forecast_value: null, quota_value: '0', currency_code: 'EUR', is_updated: false });
    const tp = await client.query("SELECT year, start_date::text AS s FROM clari.forecast_time_periods WHERE job_id = 'f1'");
    expect(tp.rows[0]).toEqual({ year: 2026, s: '2026-07-01' });
    const p = await client.query("SELECT activity_id, ordinal, email, is_internal FROM clari.activity_participants WHERE job_id = 'a1' ORDER BY ordinal");
    expect(p.rows.map((r) => [r.activity_id, r.ordinal, r.is_internal])).toEqual([['a1', 0, true], ['a1', 1, false]]);
    const act = await client.query("SELECT occurred_at_ms::text AS t FROM clari.activities WHERE job_id = 'a1' ORDER BY activity_id");
    expect(act.rows.map((r) => r.t)).toEqual(['1702906200000', '1702906300000']);
    const ev = await client.query("SELECT event_parameters FROM clari.audit_events WHERE job_id = 'au1' AND actor_id = 'act1'");
    expect(ev.rows[0].event_parameters).toEqual({ field: 'commit' });
    const fe = await client.query("SELECT forecast_amount, extra FROM clari.flat_entries WHERE job_id = 'fl1' ORDER BY owner_name");
    expect(fe.rows[1]).toEqual({ forecast_amount: null, extra: { forecastAmount: '$1,000' } });

    const log = await client.query("SELECT job_id, kind, period, row_counts, key_id, loaded_at IS NOT NULL AS at FROM clari.load_log WHERE job_id = 'f1'");
    expect(log.rows[0]).toMatchObject({ job_id: 'f1', kind: 'forecast', period: '2026_Q3', key_id: 'k123abc', at: true });
    expect(log.rows[0].row_counts.forecast_entries).toBe(3);
  });

  test('NDJSON from clariguard export: lines tagged with _type', async () => {
    const tagged = sectionsOf(forecastExport).map(({ section, record }) => ({
      section: null,
      record: { _type: { entries: 'entry', users: 'user', fields: 'field', timePeriods: 'timePeriod', timeFrames: 'timeFrame' }[section!], ...record },
    }));
    const r = await loadRecordsIntoWarehouse({ target: server.url, records: tagged, kind: 'forecast', jobId: 'nd1' });
    expect(r.rowCounts).toEqual({ forecast_entries: 3, forecast_users: 3, forecast_fields: 2, forecast_time_periods: 1, forecast_time_frames: 2 });
    expect((await client.query("SELECT count(*)::int AS n FROM clari.forecast_users WHERE job_id = 'nd1' AND extra IS NULL")).rows[0].n).toBe(3);
  });

  test('loading the CSV export layout', async () => {
    const header = forecastCsv.split('\n')[0].split(',');
    const rows = forecastCsv.split('\n').slice(1).map((line) => Object.fromEntries(line.split(',').map((v, i) => [header[i], v])));
    const r = await loadRecordsIntoWarehouse({ target: server.url, records: rows.map((record) => ({ section: null, record })), kind: 'forecast', jobId: 'csv1' });
    expect(r.rowCounts).toEqual({ forecast_csv_rows: 2 });
    const got = await client.query("SELECT week, data_value FROM clari.forecast_csv_rows WHERE job_id = 'csv1' ORDER BY week");
    expect(got.rows).toEqual([{ week: '1', data_value: '1200' }, { week: '2', data_value: '' }]);
  });

  test('re-loading a job replaces its rows and leaves other jobs alone', async () => {
    await loadRecordsIntoWarehouse({ target: server.url, records: sectionsOf(forecastExport), kind: 'forecast', jobId: 'idem' });
    await loadRecordsIntoWarehouse({ target: server.url, records: sectionsOf(forecastExport), kind: 'forecast', jobId: 'other' });
    const again = await loadRecordsIntoWarehouse({ target: server.url, records: sectionsOf(forecastExport), kind: 'forecast', jobId: 'idem' });
    expect(again.replacedRows).toBe(11);
    expect(await count('forecast_entries', 'idem')).toBe(3);
    expect(await count('forecast_users', 'idem')).toBe(3);
    expect(await count('forecast_entries', 'other')).toBe(3);
    expect(Number((await client.query("SELECT count(*) AS n FROM clari.load_log WHERE job_id = 'idem'")).rows[0].n)).toBe(1);
  });

  test('a load that fails half-way leaves the previous load of that job intact', async () => {
    const records = sectionsOf(forecastExport);
    await expect(loadRecordsIntoWarehouse({ target: server.url, records: slowly(records, 5), kind: 'forecast', jobId: 'idem' })).rejects.toThrow(/source stream broke/);
    expect(await count('forecast_entries', 'idem')).toBe(3);
    const bad = [...records.slice(0, 2), { section: 'users', record: { userId: 'x', name: 'nul\u0000byte' } }];
    await expect(loadRecordsIntoWarehouse({ target: server.url, records: bad, kind: 'forecast', jobId: 'idem', sourceName: 'export.json' })).rejects.toMatchObject({
      exitCode: 65,
      message: expect.stringMatching(/export\.json: users #1 field name contains a NUL/),
    });
    expect(await count('forecast_users', 'idem')).toBe(3);
    // A record in the wrong export kind is refused with its position.
    await expect(loadRecordsIntoWarehouse({ target: server.url, records: sectionsOf(auditExport), kind: 'forecast', jobId: 'idem' })).rejects.toMatchObject({ exitCode: 65 });
  });

  test('streams many rows across COPY chunks and interleaved child tables', async () => {
    const n = 30_000;
    async function* many(): AsyncGenerator<WarehouseRecord> {
      for (let i = 0; i < n; i++) {
        yield { section: 'activities', record: { activityId: `a${i}`, activityType: 'MEETING', subject: `s${i}, "q"`, date: i, participants: [{ name: 'n', email: 'e', isInternal: i % 2 === 0 }] } };
      }
    }
    const r = await loadRecordsIntoWarehouse({ target: server.url, records: many(), kind: 'activity', jobId: 'big' });
    expect(r.rowCounts).toEqual({ activities: n, activity_participants: n });
    expect(await count('activities', 'big')).toBe(n);
    expect(await count('activity_participants', 'big')).toBe(n);
    const s = await client.query("SELECT subject FROM clari.activities WHERE job_id = 'big' AND activity_id = 'a29999'");
    expect(s.rows[0].subject).toBe('s29999, "q"');
  });

  test('CLI: warehouse load with the URL in a secret reference never prints the password', async () => {
    const password = canary('cgpw');
    const u = new URL(server.url);
    u.password = password;
    const file = join(tmp.dir, 'forecast.redacted.json');
    writeFileSync(file, JSON.stringify(forecastExport));
    const env = isolatedEnv(tmp.dir, { WAREHOUSE_URL: u.toString() });
    const r = await runCli(['warehouse', 'load', file, '--url', 'env:WAREHOUSE_URL', '--job-id', 'cli1', '--json'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ jobId: 'cli1', totalRows: 11, target: `postgres://postgres@127.0.0.1:${server.port}/postgres` });
    expectNoLeak(r.stdout + r.stderr, password);
    // The URL typed on the command line works too, with a warning that hides the password.
    const direct = await runCli(['warehouse', 'load', file, '--url', u.toString(), '--job-id', 'cli1'], { env });
    expect(direct.code).toBe(0);
    expect(direct.stderr).toMatch(/visible to other users/);
    expect(direct.stderr).toMatch(/loaded job cli1 .*11 rows.*replaced 11 rows/);
    expectNoLeak(direct.stdout + direct.stderr, password);
    // A connection failure names the target without the password.
    const bad = new URL(u.toString());
    bad.port = '1';
    const down = await runCli(['warehouse', 'load', file, '--url', 'env:WAREHOUSE_URL', '--job-id', 'x'], { env: { ...env, WAREHOUSE_URL: bad.toString() } });
    expect(down.code).toBe(69);
    expect(down.stderr).toMatch(/^clariguard: warehouse postgres:\/\/postgres@127\.0\.0\.1:1\/postgres: connect failed/);
    expectNoLeak(down.stdout + down.stderr, password);
    expect(await count('forecast_entries', 'cli1')).toBe(3);
  });

  test('CLI: warehouse load of a file that does not exist exits 66 (no input) with one line naming it', async () => {
    const missing = join(tmp.dir, 'no-such-export.json');
    const r = await runCli(['warehouse', 'load', missing, '--url', server.url, '--job-id', 'nf'], { env: isolatedEnv(tmp.dir) });
    expect(r.code).toBe(66);
    expect(r.stderr.trim().split('\n')).toEqual([`clariguard: ${missing}: cannot read: ENOENT`]);
    expect(r.stdout).toBe('');
  });

  test('resolveWarehouseTarget rejects a secret that is not a warehouse URL', async () => {
    await expect(resolveWarehouseTarget('env:NOT_A_URL', { env: { NOT_A_URL: 'hello' } })).rejects.toMatchObject({ exitCode: 2 });
  });
});

describe('redact straight into the warehouse', () => {
  test('redactIntoWarehouse: raw export in, only pseudonyms in the tables, key id in the load log', async () => {
    const raw = {
      ...forecastExport,
      users: forecastExport.users.map((u, i) => ({ ...u, name: `Ana Silva ${i}`, email: `ana.silva${i}@acme-corp.com` })),
    };
    const file = join(tmp.dir, 'q3-raw.json');
    writeFileSync(file, JSON.stringify(raw));
    const key = Buffer.alloc(32, 9);
    const r = await redactIntoWarehouse({ in: file, key, target: server.url });
    expect(r.load).toMatchObject({ jobId: 'q3-raw', keyId: keyIdOf(key), totalRows: 11 });
    expect(r.report.rows).toBeGreaterThan(0);
    const users = await client.query("SELECT name, email FROM clari.forecast_users WHERE job_id = 'q3-raw' ORDER BY user_id");
    for (const u of users.rows) {
      expect(u.email).toMatch(/^[0-9a-f]{20}-k[0-9a-f]{6}@/);
      expect(u.name).not.toMatch(/Ana|Silva/);
    }
    const dump = await client.query("SELECT string_agg(t::text, ' ') AS d FROM clari.forecast_users t WHERE job_id = 'q3-raw'");
    expect(dump.rows[0].d).not.toMatch(/acme-corp|Silva/);
    expect((await client.query("SELECT key_id FROM clari.load_log WHERE job_id = 'q3-raw'")).rows[0].key_id).toBe(keyIdOf(key));
    // From stdin a job id is required.
    await expect(redactIntoWarehouse({ key, target: server.url, input: Readable.from([Buffer.from('{}')]) })).rejects.toMatchObject({ exitCode: 2 });
  });

  test('stageExportForWarehouse: the staged file is loaded, then removed', async () => {
    const st = stageExportForWarehouse(server.url, 'json');
    writeFileSync(st.file, JSON.stringify(auditExport));
    try {
      // An export written unredacted is refused before anything is loaded.
      await expect(st.load({ kind: 'audit', format: 'json', redacted: false, report: null }, JSON.stringify({ from: '2026-07-01' }))).rejects.toMatchObject({ exitCode: 2 });
      const r = await st.load({ kind: 'audit', format: 'json', redacted: true, report: { keyId: 'k0a0b0c' } }, JSON.stringify({ from: '2026-07-01' }));
      expect(r.jobId).toMatch(/^audit-[0-9a-f]{16}$/);
      expect(r.rowCounts).toEqual({ audit_events: 2, audit_actors: 1 });
      const again = await st.load({ kind: 'audit', format: 'json', redacted: true, report: { keyId: 'k0a0b0c' } }, JSON.stringify({ from: '2026-07-01' }));
      expect(again.jobId).toBe(r.jobId);
      expect(again.replacedRows).toBe(3);
    } finally {
      st.cleanup();
    }
    expect(existsSync(st.file)).toBe(false);
  });
});

describe('PGlite sink', () => {
  test('loads every shape, re-loads idempotently, in a directory', async () => {
    const dir = `pglite:${join(tmp.dir, 'pglite')}`;
    // The first load opens (and creates) the directory itself; the rest share one open instance.
    const first = await loadRecordsIntoWarehouse({ target: dir, records: sectionsOf(fieldsOnly), kind: 'forecast', jobId: 'first' });
    expect(first.rowCounts).toEqual({ forecast_fields: 2 });
    const target = await openWarehouse(await resolveWarehouseTarget(dir));
    try {
    const r1 = await loadRecordsIntoWarehouse({ target, records: sectionsOf(forecastExport), kind: 'forecast', jobId: 'f1', keyId: 'kabc123' });
    expect(r1.totalRows).toBe(11);
    await loadRecordsIntoWarehouse({ target, records: sectionsOf(activityExport), kind: 'activity', jobId: 'a1' });
    await loadRecordsIntoWarehouse({ target, records: sectionsOf(auditExport), kind: 'audit', jobId: 'au1' });
    await loadRecordsIntoWarehouse({ target, records: flatEntries.map((record) => ({ section: null, record })), kind: 'flat', jobId: 'fl1' });
    async function* many(): AsyncGenerator<WarehouseRecord> {
      for (let i = 0; i < 20_000; i++) yield { section: 'entries', record: { userId: `u${i}`, fieldId: 'commit', forecastValue: i, note: 'x'.repeat(300) } };
    }
    const big = await loadRecordsIntoWarehouse({ target, records: many(), kind: 'forecast', jobId: 'big' });
    expect(big.rowCounts).toEqual({ forecast_entries: 20_000 });
    const r2 = await loadRecordsIntoWarehouse({ target, records: sectionsOf(forecastExport), kind: 'forecast', jobId: 'f1', keyId: 'kabc123' });
    expect(r2.replacedRows).toBe(11);
    const db = target;
    {
      const q = await db.query<{ t: string; n: number }>(
        `SELECT 'entries' AS t, count(*)::int AS n FROM clari.forecast_entries WHERE job_id = 'f1'
         UNION ALL SELECT 'participants', count(*)::int FROM clari.activity_participants
         UNION ALL SELECT 'audit', count(*)::int FROM clari.audit_events
         UNION ALL SELECT 'flat', count(*)::int FROM clari.flat_entries
         UNION ALL SELECT 'big', count(*)::int FROM clari.forecast_entries WHERE job_id = 'big'
         UNION ALL SELECT 'log', count(*)::int FROM clari.load_log`,
      );
      expect(Object.fromEntries(q.rows.map((r) => [r.t, r.n]))).toEqual({ entries: 3, participants: 2, audit: 2, flat: 2, big: 20_000, log: 6 });
      const e = await db.query<{ extra: unknown }>("SELECT extra FROM clari.forecast_entries WHERE job_id = 'f1' AND user_id = 'u2'");
      expect(e.rows[0].extra).toEqual({ quotaValue: '100000-1000000', note: 'comma, "quoted"\nand newline' });
    }
    } finally {
      await target.close();
    }
  }, 180_000);
});
