import { ClariguardError, ExitCode, InputError, UsageError } from '../errors.js';
import type { SecretOptions } from '../secrets/index.js';
import { checkIdentifier, openWarehouse, quoteIdent, resolveWarehouseTarget, type CopyIn, type WarehouseDb, type WarehouseTarget } from './db.js';
import { ALL_TABLE_NAMES, CLEAR_JOB_FN, copyColumns, createTablesSql, qualified, RECORD_LOAD_FN, TABLES, tableSpec, type ColumnType, type TableSpec } from './schema.js';

export { isWarehouseTarget } from './db.js';

export type ExportKind = 'forecast' | 'activity' | 'audit' | 'calls' | 'flat' | 'auto';

export interface WarehouseRecord {
  section: string | null;
  record: Record<string, unknown>;
}

export interface LoadOptions extends SecretOptions {
  /**
   * postgres://…, pglite:DIR, a secret reference holding one, an already resolved target, or an open
   * connection from openWarehouse() (left open: useful to load several exports into one PGlite directory,
   * which takes seconds to open).
   */
  target: string | WarehouseTarget | WarehouseDb;
  records: AsyncIterable<WarehouseRecord> | Iterable<WarehouseRecord>;
  /** The export's shape; `auto` routes each record by its section and fields. */
  kind: ExportKind;
  /** The export job id: a re-load of the same job replaces its rows. */
  jobId: string;
  /** Fiscal period for the load log; taken from the first time period (or flat timePeriod) when absent. */
  period?: string;
  /** Key id of the pseudonymisation key the records were redacted with (recorded in the load log). */
  keyId?: string | null;
  /** Schema to load into (default `clari`). */
  schema?: string;
  /** Name used in error messages for bad records (e.g. the input file). */
  sourceName?: string;
  /** Called every 100,000 rows (progress). */
  onProgress?: (rows: number) => void;
  warn?: (message: string) => void;
}

export interface LoadResult {
  target: string;
  schema: string;
  jobId: string;
  kind: ExportKind;
  period: string | null;
  keyId: string | null;
  /** Rows loaded per table (only tables that received rows). */
  rowCounts: Record<string, number>;
  totalRows: number;
  /** Rows of an earlier load of the same job that this load replaced. */
  replacedRows: number;
  /** Records of sections that have no table (export metadata objects), per section. */
  skippedSections: Record<string, number>;
}

// ---- values -------------------------------------------------------------------------------------------

const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;
const DATE = /^\d{4}-\d{2}-\d{2}/;

class BadValue extends Error {}

function pick(record: Record<string, unknown>, path: string): unknown {
  if (!path.includes('.')) return record[path];
  let cur: unknown = record;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function coerce(v: unknown, type: ColumnType): string | null {
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'text':
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
      return JSON.stringify(v);
    case 'jsonb':
      return JSON.stringify(v);
    case 'numeric':
    case 'integer':
    case 'bigint': {
      const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : typeof v === 'bigint' ? String(v) : typeof v === 'string' ? v.trim() : '';
      if (s === '' && typeof v === 'string') return null;
      if (!(type === 'numeric' ? NUMERIC : INTEGER).test(s)) throw new BadValue(type === 'numeric' ? 'is not a number' : 'is not an integer');
      return s;
    }
    case 'boolean':
      if (typeof v === 'boolean') return v ? 't' : 'f';
      if (typeof v === 'string') {
        const s = v.trim().toLowerCase();
        if (s === '') return null;
        if (s === 'true' || s === 't' || s === '1' || s === 'yes') return 't';
        if (s === 'false' || s === 'f' || s === '0' || s === 'no') return 'f';
      }
      throw new BadValue('is not a boolean');
    case 'date':
      if (typeof v === 'string') {
        if (v.trim() === '') return null;
        if (DATE.test(v)) return v.slice(0, 10);
      }
      throw new BadValue('is not a date (YYYY-MM-DD)');
  }
}

const NEEDS_QUOTES = /[",\n\r\\]/;

/** One CSV field for COPY … WITH (FORMAT csv): unquoted empty is NULL, "" is the empty string. */
function csvField(v: string | null): string {
  if (v === null) return '';
  if (v === '') return '""';
  if (v.includes('\u0000')) throw new BadValue('contains a NUL character, which PostgreSQL text cannot hold');
  return NEEDS_QUOTES.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

// ---- routing ------------------------------------------------------------------------------------------

const SECTION_TABLE: Record<string, string> = {
  users: 'forecast_users',
  entries: 'forecast_entries',
  fields: 'forecast_fields',
  timePeriods: 'forecast_time_periods',
  timeFrames: 'forecast_time_frames',
  activities: 'activities',
  items: 'audit_events',
  actors: 'audit_actors',
  calls: 'copilot_calls',
};

const SECTION_OF_TYPE: Record<string, string> = {
  entry: 'entries',
  user: 'users',
  field: 'fields',
  timePeriod: 'timePeriods',
  timeFrame: 'timeFrames',
  activity: 'activities',
  auditEvent: 'items',
  actor: 'actors',
  call: 'calls',
};

const KIND_TABLES: Record<Exclude<ExportKind, 'auto'>, string[]> = {
  forecast: ['forecast_users', 'forecast_entries', 'forecast_fields', 'forecast_time_periods', 'forecast_time_frames', 'forecast_csv_rows', 'flat_entries'],
  flat: ['flat_entries'],
  activity: ['activities', 'activity_participants', 'activity_accounts', 'activity_opportunities'],
  audit: ['audit_events', 'audit_actors'],
  calls: ['copilot_calls', 'copilot_call_users', 'copilot_call_external_participants'],
};

const isFlat = (r: Record<string, unknown>): boolean => 'ownerEmail' in r || 'ownerName' in r || 'forecastAmount' in r;
const isCsvRow = (r: Record<string, unknown>): boolean => 'Data Value' in r || 'Data Type' in r || ('User' in r && 'Email' in r);

/**
 * The table a record belongs in; null for a section clariguard has no table for (a top-level object such as
 * export metadata, counted in the result's skipped sections); throws for a record matching no known shape.
 */
export function routeRecord(kind: ExportKind, sectionIn: string | null, record: Record<string, unknown>): TableSpec | null {
  let table: string | undefined;
  // `clariguard export --format ndjson` tags each line with the section it came from.
  const section = sectionIn === null && typeof record._type === 'string' ? (SECTION_OF_TYPE[record._type] ?? null) : sectionIn;
  if (section === 'entries' && isFlat(record)) table = 'flat_entries';
  else if (section !== null && section !== '') table = SECTION_TABLE[section];
  else if (kind === 'flat' || isFlat(record)) table = 'flat_entries';
  else if (isCsvRow(record)) table = 'forecast_csv_rows';
  else if (kind === 'activity' || 'activityId' in record) table = 'activities';
  else if (kind === 'audit' || ('actorId' in record && 'event' in record)) table = 'audit_events';
  if (!table && section) return null;
  if (!table) throw new BadValue('does not match any export shape clariguard knows');
  if (kind !== 'auto' && !KIND_TABLES[kind].includes(table)) throw new BadValue(`is a ${table.replace(/_/g, ' ')} record, not part of a ${kind} export`);
  return tableSpec(table);
}

const CHILDREN = new Map<string, TableSpec[]>();
for (const t of TABLES) {
  if (!t.child) continue;
  const parent = TABLES.find((p) => p.columns.some((col) => col.from === t.child!.parentFrom) && !p.child)!;
  CHILDREN.set(parent.name, [...(CHILDREN.get(parent.name) ?? []), t]);
}

type Coercer = (v: unknown) => string | null;

function coercerFor(type: ColumnType): Coercer {
  if (type === 'text') return (v) => (typeof v === 'string' ? v : coerce(v, 'text'));
  if (type === 'numeric') return (v) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : coerce(v, 'numeric'));
  return (v) => coerce(v, type);
}

/**
 * A table's row encoder, compiled once: record → one COPY CSV line. A value that does not fit its typed
 * column (a bucketed amount such as "10000-100000", a rounded "$1,000") leaves the column NULL and is kept
 * verbatim in `extra` under its source key, with any fields the schema does not name.
 */
interface Encoder {
  (jobField: string, record: Record<string, unknown>, prefix: string): string;
}

function compileEncoder(t: TableSpec): Encoder {
  const cols = t.columns.map((col) => {
    const path = col.from;
    const [a, b] = path.split('.');
    const get = path.includes('.')
      ? path.split('.').length === 2
        ? (r: Record<string, unknown>) => {
            const o = r[a];
            return o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[b] : undefined;
          }
        : (r: Record<string, unknown>) => pick(r, path)
      : (r: Record<string, unknown>) => r[path];
    return { from: path, get, coerce: coercerFor(col.type) };
  });
  const consumed = consumedFor(t);
  return (jobField, record, prefix) => {
    let line = jobField + prefix;
    let extra: Record<string, unknown> | null = null;
    for (const col of cols) {
      const v = col.get(record);
      let value: string | null;
      try {
        value = col.coerce(v);
      } catch (e) {
        if (!(e instanceof BadValue)) throw e;
        value = null;
        (extra ??= {})[col.from] = v;
      }
      try {
        line += `,${csvField(value)}`;
      } catch (e) {
        if (e instanceof BadValue) throw new BadValue(`field ${col.from} ${e.message}`);
        throw e;
      }
    }
    for (const k in record) {
      if (consumed.has(k) || !Object.prototype.hasOwnProperty.call(record, k)) continue;
      (extra ??= {})[k] = record[k];
    }
    return `${line},${extra ? csvField(JSON.stringify(extra)) : ''}\n`;
  };
}

const consumedKeys = new Map<string, Set<string>>();
function consumedFor(t: TableSpec): Set<string> {
  let s = consumedKeys.get(t.name);
  if (!s) {
    s = new Set(['_type', ...t.columns.map((col) => col.from.split('.')[0])]);
    for (const ch of CHILDREN.get(t.name) ?? []) s.add(ch.child!.arrayKey);
    consumedKeys.set(t.name, s);
  }
  return s;
}

const ENCODERS = new Map<string, Encoder>();
function encoderFor(t: TableSpec): Encoder {
  let e = ENCODERS.get(t.name);
  if (!e) ENCODERS.set(t.name, (e = compileEncoder(t)));
  return e;
}

// ---- the loader ---------------------------------------------------------------------------------------

/** Rows for the table being streamed are written in chunks of this size; */
const WRITE_CHUNK = 64 * 1024;
/** rows for other tables wait in memory up to this size before the loader switches its COPY to them. */
const SWITCH_AT = 4 * 1024 * 1024;

class CopyRouter {
  private buffers = new Map<string, { parts: string[]; bytes: number }>();
  private current: { table: string; copy: CopyIn } | null = null;
  readonly counts: Record<string, number> = {};

  constructor(private readonly db: WarehouseDb, private readonly schema: string) {}

  /** Buffers a line; true when the caller must `await flushDue()` (kept synchronous: it runs per row). */
  add(t: TableSpec, line: string): boolean {
    this.counts[t.name] = (this.counts[t.name] ?? 0) + 1;
    let b = this.buffers.get(t.name);
    if (!b) this.buffers.set(t.name, (b = { parts: [], bytes: 0 }));
    b.parts.push(line);
    b.bytes += line.length;
    if (b.bytes >= (this.current?.table === t.name ? WRITE_CHUNK : SWITCH_AT) && !this.due.includes(t.name)) this.due.push(t.name);
    return this.due.length > 0;
  }

  private due: string[] = [];

  async flushDue(): Promise<void> {
    const tables = this.due;
    this.due = [];
    for (const table of tables) {
      if (this.current?.table === table) await this.drain(table);
      else await this.switchTo(table);
    }
  }

  private async drain(table: string): Promise<void> {
    const b = this.buffers.get(table)!;
    if (!b.parts.length) return;
    const text = b.parts.join('');
    b.parts = [];
    b.bytes = 0;
    await this.current!.copy.write(text);
  }

  private async switchTo(table: string): Promise<void> {
    if (this.current) {
      await this.drain(this.current.table);
      const done = this.current;
      this.current = null;
      await done.copy.end();
    }
    const copy = await this.db.copyIn(qualified(this.schema, table), copyColumns(tableSpec(table)));
    this.current = { table, copy };
    await this.drain(table);
  }

  async finish(): Promise<void> {
    if (this.current) {
      await this.drain(this.current.table);
      await this.current.copy.end();
      this.current = null;
    }
    for (const [table, b] of this.buffers) {
      if (!b.parts.length) continue;
      await this.switchTo(table);
      await this.current!.copy.end();
      this.current = null;
    }
  }

  async abort(): Promise<void> {
    const c = this.current;
    this.current = null;
    if (c) await c.copy.abort();
  }
}

async function tablesMissing(db: WarehouseDb, schema: string): Promise<boolean> {
  const names = ALL_TABLE_NAMES.map((t) => `${quoteIdent(schema)}.${quoteIdent(t)}`);
  const r = await db.query<{ missing: number; fns: number }>(
    `SELECT (SELECT count(*)::int FROM unnest($1::text[]) AS n WHERE to_regclass(n) IS NULL) AS missing,
            (SELECT count(*)::int FROM unnest($2::text[]) AS f WHERE to_regprocedure(f) IS NULL) AS fns`,
    [names, [`${quoteIdent(schema)}.${CLEAR_JOB_FN}(text)`, `${quoteIdent(schema)}.${RECORD_LOAD_FN}(text,text,text,jsonb,text)`]],
  );
  return r.rows[0].missing > 0 || r.rows[0].fns > 0;
}

/** Creates the schema and tables if any is missing (a loader without CREATE needs `warehouse init` first). */
export async function ensureTables(db: WarehouseDb, schema: string): Promise<void> {
  if (!(await tablesMissing(db, schema))) return;
  try {
    await db.exec(createTablesSql(schema));
  } catch (e) {
    if ((e as { code?: string }).code === '42501') {
      throw new ClariguardError(
        `warehouse ${db.display}: schema ${schema} is not set up and this role may not create it; run "clariguard warehouse init" as an administrator first`,
        { exitCode: ExitCode.noPermission, code: 'warehouse_permission', cause: e },
      );
    }
    throw e;
  }
}

function dbError(db: WarehouseDb, operation: string, e: unknown): ClariguardError {
  if (e instanceof ClariguardError) return e;
  const err = e as { code?: string; message?: string };
  const exitCode = err.code === '42501' ? ExitCode.noPermission : err.code?.startsWith('22') ? ExitCode.dataError : ExitCode.unavailable;
  return new ClariguardError(`warehouse ${db.display}: ${operation} failed: ${(err.message ?? String(e)).split('\n')[0]}`, {
    exitCode,
    code: 'warehouse_error',
    cause: e,
  });
}

/**
 * Loads one export's records into the warehouse: COPY, streamed, in one transaction. Rows of an earlier
 * load of the same job are deleted first in that transaction, so a re-run replaces them and a failed run
 * leaves the previous load intact. The load log gets one row per job.
 */
export async function loadRecordsIntoWarehouse(o: LoadOptions): Promise<LoadResult> {
  const schema = checkIdentifier(o.schema ?? 'clari', 'schema');
  if (!o.jobId) throw new UsageError('a warehouse load needs the export job id');
  const given = typeof o.target === 'object' && 'query' in o.target ? o.target : null;
  const db = given ?? (await openWarehouse(typeof o.target === 'string' ? await resolveWarehouseTarget(o.target, o) : (o.target as WarehouseTarget)));
  const jobField = csvField(o.jobId);
  let period = o.period ?? null;
  const source = o.sourceName ?? `${o.kind} export ${o.jobId}`;
  const router = new CopyRouter(db, schema);
  let inTx = false;
  let replacedRows = 0;
  let skippedSections: Record<string, number> = {};
  let step = 'begin';
  try {
    await db.exec('BEGIN');
    inTx = true;
    step = 'creating tables';
    await ensureTables(db, schema);
    step = 'locking the job';
    // Two loads of the same job at once would interleave their deletes and copies.
    await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`clariguard:${schema}:${o.jobId}`]);
    step = 'removing the previous load of this job';
    const cleared = await db.query<{ n: string }>(`SELECT ${quoteIdent(schema)}.${CLEAR_JOB_FN}($1) AS n`, [o.jobId]);
    replacedRows = Number(cleared.rows[0].n);
    step = 'copying rows';
    const counters: Record<string, number> = Object.create(null);
    const skipped: Record<string, number> = {};
    let total = 0;
    // Synchronous per record; only a due flush awaits (the COPY stream's backpressure).
    const place = (section: string | null, record: Record<string, unknown>): boolean => {
      const key = section ?? '';
      const n = (counters[key] = (counters[key] ?? 0) + 1);
      let due = false;
      try {
        const t = routeRecord(o.kind, section, record);
        if (!t) {
          skipped[key] = (skipped[key] ?? 0) + 1;
          return false;
        }
        if (period === null) {
          if (t.name === 'forecast_time_periods' && typeof record.timePeriodId === 'string') period = record.timePeriodId;
          else if (t.name === 'flat_entries' && typeof record.timePeriod === 'string') period = record.timePeriod;
        }
        due = router.add(t, encoderFor(t)(jobField, record, ''));
        const children = CHILDREN.get(t.name);
        if (children) {
          for (const child of children) {
            const arr = record[child.child!.arrayKey];
            if (!Array.isArray(arr)) continue;
            const parentField = `,${csvField(coerce(pick(record, child.child!.parentFrom), 'text'))}`;
            const enc = encoderFor(child);
            for (let i = 0; i < arr.length; i++) {
              const item = arr[i];
              if (item === null || typeof item !== 'object') throw new BadValue(`${child.child!.arrayKey}[${i}] is not an object`);
              due = router.add(child, enc(jobField, item as Record<string, unknown>, `${parentField},${i}`)) || due;
            }
          }
        }
      } catch (e) {
        if (e instanceof BadValue) throw new InputError(source, `${section ?? 'record'} #${n} ${e.message}`);
        throw e;
      }
      if (++total % 100_000 === 0) o.onProgress?.(total);
      return due;
    };
    const recs = o.records;
    if (Symbol.asyncIterator in recs) {
      for await (const { section, record } of recs) if (place(section, record)) await router.flushDue();
    } else {
      for (const { section, record } of recs) if (place(section, record)) await router.flushDue();
    }
    await router.finish();
    skippedSections = skipped;
    for (const [sec, n] of Object.entries(skipped)) o.warn?.(`${source}: no warehouse table for section "${sec}"; ${n} record(s) not loaded`);
    step = 'writing the load log';
    await db.query(`SELECT ${quoteIdent(schema)}.${RECORD_LOAD_FN}($1, $2, $3, $4::jsonb, $5)`, [
      o.jobId,
      o.kind,
      period,
      JSON.stringify(router.counts),
      o.keyId ?? null,
    ]);
    step = 'commit';
    await db.exec('COMMIT');
    inTx = false;
    const totalRows = Object.values(router.counts).reduce((a, b) => a + b, 0);
    return { target: db.display, schema, jobId: o.jobId, kind: o.kind, period, keyId: o.keyId ?? null, rowCounts: { ...router.counts }, totalRows, replacedRows, skippedSections };
  } catch (e) {
    await router.abort().catch(() => undefined);
    if (inTx) await db.exec('ROLLBACK').catch(() => undefined);
    throw dbError(db, step, e);
  } finally {
    if (!given) await db.close();
  }
}
