import { resolve } from 'node:path';
import { ClariguardError, ExitCode, UsageError } from '../errors.js';
import { parseSecretRef, readSecret, type SecretOptions } from '../secrets/index.js';
import { SecretValue } from '../secrets/value.js';

/**
 * Warehouse targets: a PostgreSQL URL (postgres:// or postgresql://), `pglite:DIR` (embedded PostgreSQL in a
 * directory, no server), or a secret reference whose value is one of those (so a password never has to be
 * typed on a command line, where other users of the machine can read it).
 */
export type WarehouseTarget =
  | { type: 'postgres'; url: SecretValue; display: string; hasPassword: boolean }
  | { type: 'pglite'; dir: string; display: string };

const PG_URL = /^postgres(?:ql)?:\/\//i;

function looksLikeSecretRef(text: string): boolean {
  try {
    parseSecretRef(text);
    return true;
  } catch {
    return false;
  }
}

/** True when `--out` names a warehouse rather than a file: a postgres URL, `pglite:DIR`, or a secret reference. */
export function isWarehouseTarget(out: string): boolean {
  const t = out.trim();
  return PG_URL.test(t) || t.startsWith('pglite:') || looksLikeSecretRef(t);
}

/** `postgres://user@host:port/db`: the URL without its password or query string, safe to print. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
    return `${u.protocol}//${user}${u.host}${u.pathname}`;
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

function fromText(text: string, origin: string): WarehouseTarget {
  const t = text.trim();
  if (t.startsWith('pglite:')) {
    const dir = t.slice('pglite:'.length);
    if (!dir) throw new UsageError(`${origin}: pglite: needs a directory, e.g. pglite:./warehouse`);
    return { type: 'pglite', dir: resolve(dir), display: `pglite:${dir}` };
  }
  if (PG_URL.test(t)) {
    let hasPassword = false;
    try {
      const u = new URL(t);
      hasPassword = u.password !== '';
      // Registering the password makes every error printer and the logger mask it.
      if (hasPassword) new SecretValue(decodeURIComponent(u.password));
    } catch {
      throw new UsageError(`${origin}: not a valid postgres URL`);
    }
    return { type: 'postgres', url: new SecretValue(t), display: displayUrl(t), hasPassword };
  }
  throw new UsageError(`${origin}: expected postgres://…, postgresql://…, pglite:DIR or a secret reference holding one`);
}

/**
 * Resolves `--url`/`--out` to a target. A secret reference is read through the secret store; its value
 * never appears in messages.
 */
export async function resolveWarehouseTarget(
  spec: string,
  opts: SecretOptions & { warn?: (message: string) => void } = {},
): Promise<WarehouseTarget> {
  const t = spec.trim();
  if (PG_URL.test(t) || t.startsWith('pglite:')) {
    const target = fromText(t, 'warehouse URL');
    if (target.type === 'postgres' && target.hasPassword) {
      opts.warn?.(`the password in ${target.display} is visible to other users in the process list; store the URL with "clariguard secret set" and pass its reference instead`);
    }
    return target;
  }
  if (!looksLikeSecretRef(t)) return fromText(t, 'warehouse URL');
  const ref = parseSecretRef(t);
  const value = await readSecret(ref, opts);
  return fromText(value.reveal(), ref.raw);
}

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

/** An open COPY … FROM STDIN: write CSV text, then end() once. */
export interface CopyIn {
  write(csv: string): Promise<void>;
  end(): Promise<void>;
  abort(): Promise<void>;
}

/** One connection to a warehouse, PostgreSQL or PGlite, with the few operations clariguard needs. */
export interface WarehouseDb {
  readonly type: 'postgres' | 'pglite';
  readonly display: string;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
  /** Several statements, no parameters. */
  exec(sql: string): Promise<void>;
  copyIn(qualifiedTable: string, columns: string[]): Promise<CopyIn>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Load pgcrypto (PGlite needs its extension bundle up front). */
  pgcrypto?: boolean;
  /**
   * Custom settings sent in the startup packet (`-c name=value`): they reach the session without ever
   * being part of a statement, so log_statement, pg_stat_activity and pg_stat_statements never see them.
   */
  startupSettings?: Record<string, SecretValue | string>;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Identifiers clariguard creates itself: plain lower-case names only, so nothing needs quoting surprises. */
export function checkIdentifier(name: string, what: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new UsageError(`${what} "${name}" must be a lower-case SQL identifier (letters, digits, _; at most 63 characters)`);
  }
  return name;
}

function connectError(display: string, e: unknown): ClariguardError {
  const err = e as { code?: string; message?: string };
  const code = err.code === '28P01' || err.code === '28000' ? ExitCode.noPermission : ExitCode.unavailable;
  const detail = (err.message ?? String(e)).split('\n')[0];
  return new ClariguardError(`warehouse ${display}: connect failed: ${detail}`, { exitCode: code, code: 'warehouse_unavailable', cause: e });
}

async function openPostgres(target: Extract<WarehouseTarget, { type: 'postgres' }>, o: ConnectOptions): Promise<WarehouseDb> {
  const pg = (await import('pg')).default;
  const { from: copyFrom } = await import('pg-copy-streams');
  const settings = Object.entries(o.startupSettings ?? {}).map(([k, v]) => {
    const value = typeof v === 'string' ? v : v.reveal();
    if (!/^[A-Za-z0-9_.:+/=-]*$/.test(value)) throw new UsageError(`startup setting ${k} has characters that cannot be sent safely`);
    return `-c ${k}=${value}`;
  });
  const client = new pg.Client({
    connectionString: target.url.reveal(),
    application_name: 'clariguard',
    ...(settings.length ? { options: settings.join(' ') } : {}),
  });
  // An idle client that loses its server emits 'error'; without a listener that would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    throw connectError(target.display, e);
  }
  return {
    type: 'postgres',
    display: target.display,
    async query<T>(sql: string, params?: unknown[]) {
      const r = await client.query(sql, params as unknown[] | undefined);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
    },
    async exec(sql: string) {
      await client.query(sql);
    },
    async copyIn(table: string, columns: string[]) {
      const stream = client.query(copyFrom(`COPY ${table} (${columns.map(quoteIdent).join(', ')}) FROM STDIN WITH (FORMAT csv)`));
      let failure: Error | undefined;
      const done = new Promise<void>((res, rej) => {
        stream.on('finish', res);
        stream.on('error', (e: Error) => {
          failure = e;
          rej(e);
        });
      });
      done.catch(() => undefined);
      return {
        async write(csv: string) {
          if (failure) throw failure;
          if (!stream.write(csv)) {
            await new Promise<void>((res, rej) => {
              const onDrain = (): void => {
                stream.off('error', onErr);
                res();
              };
              const onErr = (e: Error): void => {
                stream.off('drain', onDrain);
                rej(e);
              };
              stream.once('drain', onDrain);
              stream.once('error', onErr);
            });
          }
        },
        async end() {
          stream.end();
          await done;
        },
        async abort() {
          stream.destroy(new Error('load aborted'));
          await done.catch(() => undefined);
        },
      };
    },
    async close() {
      await client.end().catch(() => undefined);
    },
  };
}

/** PGlite reads COPY data from its /dev/blob device, one Blob per statement: chunks of this size keep memory flat. */
const PGLITE_COPY_CHUNK = 8 * 1024 * 1024;

async function openPglite(target: Extract<WarehouseTarget, { type: 'pglite' }>, o: ConnectOptions): Promise<WarehouseDb> {
  const { PGlite } = await import('@electric-sql/pglite');
  const extensions: Record<string, unknown> = {};
  if (o.pgcrypto) extensions.pgcrypto = (await import('@electric-sql/pglite/contrib/pgcrypto')).pgcrypto;
  let db: InstanceType<typeof PGlite>;
  try {
    db = await PGlite.create({ dataDir: target.dir, extensions: extensions as never });
  } catch (e) {
    throw connectError(target.display, e);
  }
  for (const [k, v] of Object.entries(o.startupSettings ?? {})) {
    await db.query('SELECT set_config($1, $2, false)', [k, typeof v === 'string' ? v : v.reveal()]);
  }
  return {
    type: 'pglite',
    display: target.display,
    async query<T>(sql: string, params?: unknown[]) {
      const r = await db.query<T>(sql, params);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
    async exec(sql: string) {
      await db.exec(sql);
    },
    async copyIn(table: string, columns: string[]) {
      const statement = `COPY ${table} (${columns.map(quoteIdent).join(', ')}) FROM '/dev/blob' WITH (FORMAT csv)`;
      let parts: string[] = [];
      let size = 0;
      const flush = async (): Promise<void> => {
        if (!parts.length) return;
        const blob = new Blob(parts);
        parts = [];
        size = 0;
        await db.query(statement, [], { blob });
      };
      return {
        async write(csv: string) {
          parts.push(csv);
          size += csv.length;
          if (size >= PGLITE_COPY_CHUNK) await flush();
        },
        end: flush,
        async abort() {
          parts = [];
          size = 0;
        },
      };
    },
    async close() {
      await db.close().catch(() => undefined);
    },
  };
}

export async function openWarehouse(target: WarehouseTarget, o: ConnectOptions = {}): Promise<WarehouseDb> {
  return target.type === 'postgres' ? openPostgres(target, o) : openPglite(target, o);
}
