import { ClariguardError, ExitCode, UsageError } from '../errors.js';
import type { SecretOptions } from '../secrets/index.js';
import { openWarehouse, quoteIdent, resolveWarehouseTarget, type WarehouseDb, type WarehouseTarget } from './db.js';
import { CLEAR_JOB_FN, createTablesSql, LOAD_LOG, loaderFunctionsSql, qualified, READER_SCOPES, RECORD_LOAD_FN, TABLES } from './schema.js';

export interface InitOptions extends SecretOptions {
  target: string | WarehouseTarget;
  schema?: string;
  /** Roles that may only read (SELECT). Created NOLOGIN when missing. */
  readers?: string[];
  /** The role that loads exports (INSERT + the job-replace and load-log functions; no SELECT, no DDL). Created NOLOGIN when missing. */
  loader?: string;
  /**
   * Row-level security by hierarchy: readers see forecast users (and their entries) only through the
   * `forecast_users_scoped`/`forecast_entries_scoped` views, limited to the hierarchy nodes granted to them in
   * `<schema>.reader_scopes` and everything beneath those nodes.
   */
  rls?: boolean;
  /** `ROLE=HIERARCHY_ID` grants for reader_scopes (with rls). */
  scopes?: string[];
  warn?: (message: string) => void;
}

export interface InitResult {
  target: string;
  schema: string;
  owner: string;
  tables: string[];
  readers: string[];
  loader: string | null;
  rls: boolean;
  createdRoles: string[];
  scopes: { role: string; hierarchyId: string }[];
}

const ROLE = /^[a-z_][a-z0-9_$-]{0,62}$/i;

function checkRole(name: string): string {
  if (!ROLE.test(name)) throw new UsageError(`role "${name}" is not a valid role name (letters, digits, _, $, -; at most 63 characters)`);
  return name;
}

async function ensureRole(db: WarehouseDb, role: string): Promise<boolean> {
  const r = await db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  if (r.rowCount > 0 || r.rows.length > 0) return false;
  await db.exec(`CREATE ROLE ${quoteIdent(role)} NOLOGIN`);
  return true;
}

export const SCOPED_VIEWS = { forecast_users: 'forecast_users_scoped', forecast_entries: 'forecast_entries_scoped' } as const;

/**
 * Row-level security by hierarchy, as security-barrier views rather than table policies: PostgreSQL refuses
 * COPY FROM into a table with row-level security for any role that does not bypass it, and the loader
 * should neither bypass RLS nor fall back to slow INSERTs. Readers lose SELECT on the two base tables and
 * get the views, which show the users in the hierarchy nodes granted to them in reader_scopes (and every
 * node beneath), and those users' entries.
 */
function rlsSql(schema: string, readers: string[], loader: string | null): string {
  const scopes = qualified(schema, READER_SCOPES);
  const users = qualified(schema, 'forecast_users');
  const entries = qualified(schema, 'forecast_entries');
  const vUsers = qualified(schema, SCOPED_VIEWS.forecast_users);
  const vEntries = qualified(schema, SCOPED_VIEWS.forecast_entries);
  const out = [
    `CREATE TABLE IF NOT EXISTS ${scopes} (role_name text NOT NULL, hierarchy_id text NOT NULL, PRIMARY KEY (role_name, hierarchy_id));`,
    `COMMENT ON TABLE ${scopes} IS 'hierarchy nodes each reader role sees through the *_scoped views (with all nodes beneath)';`,
    // current_user inside a view is the querying role; the tables are read with the view owner's rights.
    `CREATE OR REPLACE VIEW ${vUsers} WITH (security_barrier) AS
  WITH RECURSIVE h(id) AS (
    SELECT s.hierarchy_id FROM ${scopes} s JOIN pg_catalog.pg_roles r ON r.rolname = s.role_name
     WHERE pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')
    UNION
    SELECT u.hierarchy_id FROM ${users} u JOIN h ON u.parent_hierarchy_id = h.id
  )
  SELECT u.* FROM ${users} u WHERE u.hierarchy_id IN (SELECT id FROM h);`,
    `CREATE OR REPLACE VIEW ${vEntries} WITH (security_barrier) AS
  SELECT e.* FROM ${entries} e WHERE EXISTS (SELECT 1 FROM ${vUsers} u WHERE u.job_id = e.job_id AND u.user_id = e.user_id);`,
    `REVOKE ALL ON ${scopes}, ${vUsers}, ${vEntries} FROM PUBLIC${loader ? `, ${quoteIdent(loader)}` : ''};`,
  ];
  for (const r of readers) {
    out.push(`REVOKE ALL ON ${users}, ${entries}, ${scopes} FROM ${quoteIdent(r)};`);
    out.push(`GRANT SELECT ON ${vUsers}, ${vEntries} TO ${quoteIdent(r)};`);
  }
  return out.join('\n');
}

/**
 * Creates (or brings up to date) the warehouse schema with least privilege. Re-runnable: every step is
 * idempotent. Run it as the role that should own the schema (an administrator, not the loader).
 *
 *   - PUBLIC gets nothing on the schema or its tables;
 *   - the loader may INSERT rows and call two owner functions (replace a job's rows, write the load log);
 *     it cannot read, update or change the tables;
 *   - readers may only SELECT (the reader_scopes table of --rls is not readable by them);
 *   - default privileges make tables the owner creates later follow the same rules.
 */
export async function initWarehouse(o: InitOptions): Promise<InitResult> {
  const schema = o.schema ?? 'clari';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new UsageError(`schema "${schema}" must be a lower-case SQL identifier`);
  const readers = [...new Set((o.readers ?? []).map(checkRole))];
  const loader = o.loader ? checkRole(o.loader) : null;
  if (loader && readers.includes(loader)) throw new UsageError(`role ${loader} cannot be both the loader and a reader`);
  const scopes = (o.scopes ?? []).map((s) => {
    const eq = s.indexOf('=');
    if (eq <= 0 || eq === s.length - 1) throw new UsageError(`--scope "${s}" must be ROLE=HIERARCHY_ID`);
    return { role: checkRole(s.slice(0, eq)), hierarchyId: s.slice(eq + 1) };
  });
  if (scopes.length && !o.rls) throw new UsageError('--scope needs --rls');
  for (const sc of scopes) if (!readers.includes(sc.role)) throw new UsageError(`--scope names ${sc.role}, which is not a --reader`);
  const target = typeof o.target === 'string' ? await resolveWarehouseTarget(o.target, o) : o.target;
  const db = await openWarehouse(target);
  const s = quoteIdent(schema);
  let inTx = false;
  try {
    const owner = (await db.query<{ u: string }>('SELECT current_user AS u')).rows[0].u;
    if (loader === owner || readers.includes(owner)) throw new UsageError(`run init as the schema owner, not as ${owner} (a loader/reader role)`);
    await db.exec('BEGIN');
    inTx = true;
    const createdRoles: string[] = [];
    for (const r of [...readers, ...(loader ? [loader] : [])]) if (await ensureRole(db, r)) createdRoles.push(r);
    await db.exec(createTablesSql(schema));
    const tables = [...TABLES.map((t) => t.name), LOAD_LOG];
    const all = tables.map((t) => qualified(schema, t)).join(', ');
    const sql: string[] = [
      `REVOKE ALL ON SCHEMA ${s} FROM PUBLIC;`,
      `REVOKE ALL ON ALL TABLES IN SCHEMA ${s} FROM PUBLIC;`,
      `REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ${s} FROM PUBLIC;`,
      `ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} REVOKE ALL ON TABLES FROM PUBLIC;`,
      `ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} REVOKE ALL ON SEQUENCES FROM PUBLIC;`,
    ];
    sql.push(loaderFunctionsSql(schema));
    if (loader) {
      const l = quoteIdent(loader);
      // INSERT only: the loader cannot read what it loaded. Replacing a job's rows and writing the load log
      // go through the two owner functions below, which can do nothing else.
      const data = TABLES.map((t) => qualified(schema, t.name)).join(', ');
      sql.push(
        `GRANT USAGE ON SCHEMA ${s} TO ${l};`,
        `GRANT INSERT ON ${data} TO ${l};`,
        `GRANT EXECUTE ON FUNCTION ${s}.${CLEAR_JOB_FN}(text), ${s}.${RECORD_LOAD_FN}(text, text, text, jsonb, text) TO ${l};`,
        `ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT INSERT ON TABLES TO ${l};`,
      );
    }
    for (const reader of readers) {
      const r = quoteIdent(reader);
      sql.push(
        `GRANT USAGE ON SCHEMA ${s} TO ${r};`,
        `GRANT SELECT ON ${all} TO ${r};`,
        `ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT SELECT ON TABLES TO ${r};`,
      );
    }
    await db.exec(sql.join('\n'));
    if (o.rls) {
      await db.exec(rlsSql(schema, readers, loader));
      for (const sc of scopes) {
        await db.query(`INSERT INTO ${qualified(schema, READER_SCOPES)} (role_name, hierarchy_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [sc.role, sc.hierarchyId]);
      }
    }
    await db.exec('COMMIT');
    inTx = false;
    return { target: db.display, schema, owner, tables: o.rls ? [...tables, READER_SCOPES, SCOPED_VIEWS.forecast_users, SCOPED_VIEWS.forecast_entries] : tables, readers, loader, rls: Boolean(o.rls), createdRoles, scopes };
  } catch (e) {
    if (inTx) await db.exec('ROLLBACK').catch(() => undefined);
    if (e instanceof ClariguardError) throw e;
    const err = e as { code?: string; message?: string };
    throw new ClariguardError(`warehouse ${db.display}: init failed: ${(err.message ?? String(e)).split('\n')[0]}`, {
      exitCode: err.code === '42501' ? ExitCode.noPermission : ExitCode.unavailable,
      code: 'warehouse_error',
      cause: e,
    });
  } finally {
    await db.close();
  }
}
