import { ClariguardError, ExitCode, UsageError } from '../errors.js';
import { keyIdOf } from '../redact/pseudonym.js';
import type { SecretOptions } from '../secrets/index.js';
import { SecretValue } from '../secrets/value.js';
import { openWarehouse, resolveWarehouseTarget, type WarehouseDb, type WarehouseTarget } from './db.js';
import {
  alreadyPseudonymisedExpr,
  keyIdExpr,
  pseudonymExpr,
  quoteColumnName,
  quoteTableName,
  sessionKeySettings,
  type SqlPseudonymKind,
} from './pseudonym-sql.js';

export interface PseudonymizeOptions extends SecretOptions {
  target: string | WarehouseTarget;
  /** TABLE or SCHEMA.TABLE. */
  table: string;
  column: string;
  kind: SqlPseudonymKind;
  /** The pseudonymisation key (the same bytes `clariguard redact` uses). */
  key: Buffer;
  /**
   * `pgcrypto` (HMAC via pgcrypto's hmac()), `sha256` (built-in sha256() with padded keys, for servers where
   * pgcrypto may not be installed), or `auto` (pgcrypto when it is or can be installed, otherwise sha256).
   */
  method?: 'auto' | 'pgcrypto' | 'sha256';
  warn?: (message: string) => void;
}

export interface PseudonymizeResult {
  target: string;
  table: string;
  column: string;
  kind: SqlPseudonymKind;
  keyId: string;
  method: 'pgcrypto' | 'sha256';
  /** Rows whose value was replaced by its pseudonym. */
  updated: number;
  /** Non-null values left alone because they already are clariguard pseudonyms. */
  skipped: number;
}

async function pgcryptoSchema(db: WarehouseDb): Promise<string | null> {
  const r = await db.query<{ schema: string }>(
    "SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto'",
  );
  return r.rows[0]?.schema ?? null;
}

async function choosePgcrypto(db: WarehouseDb, method: 'auto' | 'pgcrypto' | 'sha256'): Promise<string | null> {
  if (method === 'sha256') return null;
  let schema = await pgcryptoSchema(db);
  if (!schema) {
    try {
      await db.exec('CREATE EXTENSION IF NOT EXISTS pgcrypto');
      schema = await pgcryptoSchema(db);
    } catch (e) {
      if (method === 'pgcrypto') {
        throw new ClariguardError(
          `warehouse ${db.display}: pgcrypto is not installed and could not be created (${(e as Error).message.split('\n')[0]}); install postgresql-contrib or use --method sha256`,
          { exitCode: ExitCode.unavailable, code: 'warehouse_pgcrypto', cause: e },
        );
      }
    }
  }
  return schema;
}

/**
 * Replaces every value of a column with its pseudonym, inside the warehouse, in one transaction. The key
 * reaches the session as a startup setting (never in a statement, so never in the server's statement log,
 * pg_stat_activity or pg_stat_statements), is read by `current_setting()` in the UPDATE, and is gone when the
 * connection closes: it is stored in no table, view or function.
 */
export async function pseudonymizeColumn(o: PseudonymizeOptions): Promise<PseudonymizeResult> {
  if (o.key.length < 16) throw new UsageError('pseudonymisation key must be at least 16 bytes');
  const target = typeof o.target === 'string' ? await resolveWarehouseTarget(o.target, o) : o.target;
  const method = o.method ?? 'auto';
  const keyId = keyIdOf(o.key);
  const settings = Object.fromEntries(
    Object.entries({ ...sessionKeySettings(o.key, 'postgres'), ...sessionKeySettings(o.key, 'postgres-sha256') }).map(([k, v]) => [k, new SecretValue(v)]),
  );
  const db = await openWarehouse(target, { pgcrypto: method !== 'sha256', startupSettings: settings });
  let inTx = false;
  try {
    const schema = await choosePgcrypto(db, method);
    const dialect = schema ? 'postgres' : 'postgres-sha256';
    const table = quoteTableName(o.table, 'postgres');
    const column = quoteColumnName(o.column, 'postgres');
    const info = await db.query<{ type: string | null; exists: boolean }>(
      `SELECT to_regclass($1) IS NOT NULL AS exists,
              (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped AND a.attnum > 0) AS type`,
      [table, o.column],
    );
    if (!info.rows[0].exists) throw new ClariguardError(`warehouse ${db.display}: no table ${o.table}`, { exitCode: ExitCode.noInput, code: 'not_found' });
    const type = info.rows[0].type;
    if (!type) throw new ClariguardError(`warehouse ${db.display}: table ${o.table} has no column ${o.column}`, { exitCode: ExitCode.noInput, code: 'not_found' });
    if (!/^(text|character varying|character)\b/.test(type)) throw new UsageError(`column ${o.table}.${o.column} is ${type}; only text columns can hold pseudonyms`);
    const ex = { dialect, kind: o.kind, pgcryptoSchema: schema ?? undefined } as const;
    // Proves the session received the key (and that this SQL and the CLI agree) before touching any row.
    const kid = await db.query<{ kid: string }>(`SELECT ${keyIdExpr(ex)} AS kid`);
    if (kid.rows[0].kid !== keyId) throw new ClariguardError(`warehouse ${db.display}: the session computed key id ${kid.rows[0].kid}, expected ${keyId}`, { exitCode: ExitCode.software });
    await db.exec('BEGIN');
    inTx = true;
    const skipped = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table} WHERE ${column} IS NOT NULL AND ${alreadyPseudonymisedExpr(column, ex)}`,
    );
    const upd = await db.query(
      `UPDATE ${table} SET ${column} = ${pseudonymExpr(column, ex)} WHERE ${column} IS NOT NULL AND NOT (${alreadyPseudonymisedExpr(column, ex)})`,
    );
    await db.exec('COMMIT');
    inTx = false;
    return {
      target: db.display,
      table: o.table,
      column: o.column,
      kind: o.kind,
      keyId,
      method: schema ? 'pgcrypto' : 'sha256',
      updated: upd.rowCount,
      skipped: skipped.rows[0].n,
    };
  } catch (e) {
    if (inTx) await db.exec('ROLLBACK').catch(() => undefined);
    if (e instanceof ClariguardError) throw e;
    const err = e as { code?: string; message?: string };
    throw new ClariguardError(`warehouse ${db.display}: pseudonymize ${o.table}.${o.column} failed: ${(err.message ?? String(e)).split('\n')[0]}`, {
      exitCode: err.code === '42501' ? ExitCode.noPermission : ExitCode.unavailable,
      code: 'warehouse_error',
      cause: e,
    });
  } finally {
    await db.close();
  }
}
