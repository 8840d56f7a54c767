import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { auditWarehouseGrants } from '../../src/audit/checks/warehouse-access-controlled.js';
import { initWarehouse, loadRecordsIntoWarehouse, TABLES } from '../../src/warehouse/index.js';
import { isolatedEnv, runCli, tempDir } from '../helpers/cli.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { forecastExport, sectionsOf } from './fixtures.js';

let server: PgServer;
let su: pg.Client;
const tmp = tempDir('clariguard-wh-access-');
const urlAs = (user: string): string => `postgres://${user}@127.0.0.1:${server.port}/postgres`;
const DATA = TABLES.map((t) => t.name);

async function as<T>(user: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: urlAs(user) });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** The SQLSTATE a statement fails with as `user`, or 'ok'. */
async function outcome(user: string, sql: string, params: unknown[] = []): Promise<string> {
  return as(user, async (c) => {
    try {
      await c.query(sql, params);
      return 'ok';
    } catch (e) {
      return (e as { code?: string }).code ?? 'error';
    }
  });
}

beforeAll(async () => {
  server = await startPostgres();
  su = new pg.Client({ connectionString: server.url });
  await su.connect();
  // An administrator who is not a superuser owns the schema; three login roles exist beforehand.
  await su.query(`CREATE ROLE wh_owner LOGIN CREATEROLE; GRANT CREATE ON DATABASE postgres TO wh_owner;
                  CREATE ROLE analyst LOGIN; CREATE ROLE loader_bot LOGIN; CREATE ROLE outsider LOGIN; CREATE ROLE dach_reader LOGIN;`);
});

afterAll(async () => {
  await su?.end();
  server?.stop();
  tmp.cleanup();
});

describe('warehouse init', () => {
  test('CLI init creates the schema with least privilege, and is re-runnable', async () => {
    const env = isolatedEnv(tmp.dir, { WAREHOUSE_URL: urlAs('wh_owner') });
    for (let run = 0; run < 2; run++) {
      const r = await runCli(['warehouse', 'init', '--url', 'env:WAREHOUSE_URL', '--reader', 'analyst', '--reader', 'auditor', '--loader', 'loader_bot', '--json'], { env });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ schema: 'clari', owner: 'wh_owner', readers: ['analyst', 'auditor'], loader: 'loader_bot', createdRoles: run === 0 ? ['auditor'] : [] });
    }
    const human = await runCli(['warehouse', 'init', '--url', 'env:WAREHOUSE_URL', '--reader', 'analyst', '--reader', 'auditor', '--loader', 'loader_bot'], { env });
    expect(human.code).toBe(0);
    expect(human.stderr).toMatch(/PUBLIC: no privileges/);
    expect((await su.query("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'auditor'")).rows[0].rolcanlogin).toBe(false);
  });

  test('the catalogs show exactly the promised privileges', async () => {
    const ns = (await su.query("SELECT oid FROM pg_namespace WHERE nspname = 'clari'")).rows[0].oid;
    const publicSchema = await su.query('SELECT a.privilege_type FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.oid = $1 AND a.grantee = 0', [ns]);
    expect(publicSchema.rows).toEqual([]);
    const publicTables = await su.query(
      "SELECT c.relname FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a WHERE c.relnamespace = $1 AND c.relkind = 'r' AND a.grantee = 0",
      [ns],
    );
    expect(publicTables.rows).toEqual([]);
    const priv = async (role: string, table: string, p: string): Promise<boolean> =>
      (await su.query(`SELECT has_table_privilege($1, $2, $3) AS ok`, [role, `clari.${table}`, p])).rows[0].ok;
    for (const t of [...DATA, 'load_log']) {
      for (const p of ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) {
        expect(await priv('analyst', t, p), `analyst ${p} ${t}`).toBe(p === 'SELECT');
        expect(await priv('auditor', t, p), `auditor ${p} ${t}`).toBe(p === 'SELECT');
        expect(await priv('loader_bot', t, p), `loader ${p} ${t}`).toBe(p === 'INSERT' && t !== 'load_log');
        expect(await priv('outsider', t, p), `outsider ${p} ${t}`).toBe(false);
      }
      const col = await su.query("SELECT has_any_column_privilege('loader_bot', $1, 'SELECT') AS ok", [`clari.${t}`]);
      expect(col.rows[0].ok).toBe(false);
    }
    const schemaPriv = await su.query(
      `SELECT r AS role, has_schema_privilege(r, 'clari', 'USAGE') AS usage, has_schema_privilege(r, 'clari', 'CREATE') AS create
         FROM unnest(array['analyst','auditor','loader_bot','outsider']) AS r ORDER BY r`,
    );
    expect(schemaPriv.rows).toEqual([
      { role: 'analyst', usage: true, create: false },
      { role: 'auditor', usage: true, create: false },
      { role: 'loader_bot', usage: true, create: false },
      { role: 'outsider', usage: false, create: false },
    ]);
    const fns = await su.query(
      `SELECT r AS role, has_function_privilege(r, 'clari.clear_job(text)', 'EXECUTE') AS clear,
              has_function_privilege(r, 'clari.record_load(text,text,text,jsonb,text)', 'EXECUTE') AS log
         FROM unnest(array['analyst','loader_bot','outsider']) AS r ORDER BY r`,
    );
    expect(fns.rows).toEqual([
      { role: 'analyst', clear: false, log: false },
      { role: 'loader_bot', clear: true, log: true },
      { role: 'outsider', clear: false, log: false },
    ]);
    const defaults = await su.query(
      `SELECT pg_get_userbyid(d.defaclrole) AS owner, a.grantee::regrole::text AS grantee, string_agg(a.privilege_type, ',' ORDER BY a.privilege_type) AS privs
         FROM pg_default_acl d, aclexplode(d.defaclacl) a WHERE d.defaclnamespace = $1 AND d.defaclobjtype = 'r' GROUP BY 1, 2 ORDER BY 2`,
      [ns],
    );
    expect(defaults.rows).toEqual([
      { owner: 'wh_owner', grantee: 'analyst', privs: 'SELECT' },
      { owner: 'wh_owner', grantee: 'auditor', privs: 'SELECT' },
      { owner: 'wh_owner', grantee: 'loader_bot', privs: 'INSERT' },
    ]);
    // The audit check that verifies this setup agrees.
    const audit = await auditWarehouseGrants(su, { name: 'test', url: 'env:X', environment: 'production', schema: 'clari', readers: ['analyst', 'auditor'] } as never);
    expect(audit.status, audit.evidence.join('\n')).toBe('pass');
  });

  test('connecting as each role: the loader loads but cannot read, readers read but cannot write, others get nothing', async () => {
    const r1 = await loadRecordsIntoWarehouse({ target: urlAs('loader_bot'), records: sectionsOf(forecastExport), kind: 'forecast', jobId: 'j1', keyId: 'k000000' });
    expect(r1.totalRows).toBe(11);
    const r2 = await loadRecordsIntoWarehouse({ target: urlAs('loader_bot'), records: sectionsOf(forecastExport), kind: 'forecast', jobId: 'j1', keyId: 'k000000' });
    expect(r2.replacedRows).toBe(11);
    expect(await outcome('loader_bot', 'SELECT count(*) FROM clari.forecast_entries')).toBe('42501');
    expect(await outcome('loader_bot', 'SELECT * FROM clari.load_log')).toBe('42501');
    expect(await outcome('loader_bot', "UPDATE clari.forecast_users SET name = 'x'")).toBe('42501');
    expect(await outcome('loader_bot', 'TRUNCATE clari.forecast_users')).toBe('42501');
    expect(await outcome('loader_bot', 'CREATE TABLE clari.evil (x int)')).toBe('42501');
    expect(await outcome('loader_bot', 'DROP TABLE clari.forecast_users')).toBe('42501');

    expect(await as('analyst', async (c) => (await c.query("SELECT count(*)::int AS n FROM clari.forecast_entries WHERE job_id = 'j1'")).rows[0].n)).toBe(3);
    expect(await as('analyst', async (c) => (await c.query('SELECT loaded_by FROM clari.load_log')).rows[0].loaded_by)).toBe('loader_bot');
    expect(await outcome('analyst', "INSERT INTO clari.forecast_fields (job_id, field_id) VALUES ('x', 'y')")).toBe('42501');
    expect(await outcome('analyst', "DELETE FROM clari.forecast_users WHERE job_id = 'j1'")).toBe('42501');
    expect(await outcome('analyst', "SELECT clari.clear_job('j1')")).toBe('42501');
    expect(await outcome('analyst', 'CREATE TABLE clari.mine (x int)')).toBe('42501');

    expect(await outcome('outsider', 'SELECT count(*) FROM clari.forecast_users')).toBe('42501');
    expect(await outcome('outsider', "SELECT clari.clear_job('j1')")).toBe('42501');
    await expect(loadRecordsIntoWarehouse({ target: urlAs('outsider'), records: sectionsOf(forecastExport), kind: 'forecast', jobId: 'j2' })).rejects.toMatchObject({ exitCode: 77 });
  });

  test('tables the owner adds later follow the default privileges', async () => {
    await as('wh_owner', (c) => c.query('CREATE TABLE clari.forecast_notes (job_id text, note text)'));
    expect(await outcome('analyst', 'SELECT * FROM clari.forecast_notes')).toBe('ok');
    expect(await outcome('analyst', "INSERT INTO clari.forecast_notes VALUES ('a', 'b')")).toBe('42501');
    expect(await outcome('loader_bot', "INSERT INTO clari.forecast_notes VALUES ('a', 'b')")).toBe('ok');
    expect(await outcome('loader_bot', 'SELECT * FROM clari.forecast_notes')).toBe('42501');
    expect(await outcome('outsider', 'SELECT * FROM clari.forecast_notes')).toBe('42501');
  });

  test('--rls: readers see only their hierarchy nodes and everything beneath, through the scoped views', async () => {
    const r = await initWarehouse({
      target: urlAs('wh_owner'),
      readers: ['analyst', 'auditor', 'dach_reader'],
      loader: 'loader_bot',
      rls: true,
      scopes: ['analyst=emea', 'dach_reader=dach'],
    });
    expect(r.tables).toContain('forecast_users_scoped');
    const seen = async (role: string): Promise<string[]> =>
      as(role, async (c) => (await c.query('SELECT user_id FROM clari.forecast_users_scoped ORDER BY user_id')).rows.map((x) => x.user_id));
    expect(await seen('analyst')).toEqual(['u2', 'u3']);
    expect(await seen('dach_reader')).toEqual(['u3']);
    await su.query('ALTER ROLE auditor LOGIN'); // created NOLOGIN by init; let the test connect as it
    expect(await seen('auditor')).toEqual([]);
    expect(await as('analyst', async (c) => (await c.query('SELECT user_id FROM clari.forecast_entries_scoped ORDER BY user_id')).rows.map((x) => x.user_id))).toEqual(['u2', 'u3']);
    expect(await outcome('analyst', 'SELECT * FROM clari.forecast_users')).toBe('42501');
    expect(await outcome('analyst', 'SELECT * FROM clari.forecast_entries')).toBe('42501');
    expect(await outcome('analyst', 'SELECT * FROM clari.reader_scopes')).toBe('42501');
    expect(await outcome('analyst', "INSERT INTO clari.reader_scopes VALUES ('analyst', 'root')")).toBe('42501');
    expect(await outcome('analyst', 'SELECT * FROM clari.forecast_fields')).toBe('ok');
    expect(await outcome('outsider', 'SELECT * FROM clari.forecast_users_scoped')).toBe('42501');
    // The loader still COPYs (views, not table policies, so COPY FROM keeps working) and still cannot read.
    const again = await loadRecordsIntoWarehouse({ target: urlAs('loader_bot'), records: sectionsOf(forecastExport), kind: 'forecast', jobId: 'j1' });
    expect(again.replacedRows).toBe(11);
    expect(await outcome('loader_bot', 'SELECT * FROM clari.forecast_users_scoped')).toBe('42501');
    const audit = await auditWarehouseGrants(su, { name: 'test', url: 'env:X', environment: 'production', schema: 'clari', readers: ['analyst', 'auditor', 'dach_reader'] } as never);
    expect(audit.status, audit.evidence.join('\n')).toBe('pass');
  });

  test('bad arguments are usage errors', async () => {
    const env = isolatedEnv(tmp.dir, { WAREHOUSE_URL: urlAs('wh_owner') });
    const same = await runCli(['warehouse', 'init', '--url', 'env:WAREHOUSE_URL', '--reader', 'x', '--loader', 'x'], { env });
    expect(same.code).toBe(2);
    const scope = await runCli(['warehouse', 'init', '--url', 'env:WAREHOUSE_URL', '--reader', 'analyst', '--scope', 'analyst=emea'], { env });
    expect(scope.code).toBe(2);
    expect(scope.stderr).toMatch(/--scope needs --rls/);
    const schema = await runCli(['warehouse', 'init', '--url', 'env:WAREHOUSE_URL', '--schema', 'Bad-Name'], { env });
    expect(schema.code).toBe(2);
  });
});
