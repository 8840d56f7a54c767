import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { DEFAULT_KEY_REF, loadPseudonymKey } from '../../redact/index.js';
import { writeFileAtomicSync } from '../../util/atomic.js';
import { initWarehouse } from '../../warehouse/init.js';
import { SecretValue } from '../../secrets/value.js';
import { generatePseudonymSql, sessionKeySettings, SQL_DIALECTS, SQL_KINDS, type SqlDialect, type SqlPseudonymKind } from '../../warehouse/pseudonym-sql.js';
import { pseudonymizeColumn } from '../../warehouse/pseudonymize.js';
import { type ExportKind } from '../../warehouse/sink.js';
import { loadFileIntoWarehouse } from '../../warehouse/load-file.js';
import { collect, type CliContext } from '../context.js';
import { progressEnabled, say, warn, writeJson, writeOut } from '../io.js';

const URL_HELP = 'postgres://…, pglite:DIR, or a secret reference holding the URL (env:WAREHOUSE_URL, local:…)';
const KINDS: ExportKind[] = ['auto', 'forecast', 'activity', 'audit', 'calls', 'flat'];

function oneOf<T extends string>(value: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${what} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
  return value as T;
}

export function registerWarehouseCommands({ program }: CliContext): void {
  const wh: Command = program
    .command('warehouse')
    .description('land redacted exports in PostgreSQL/PGlite with least privilege, and pseudonymise inside the warehouse');

  wh.command('init')
    .description('create the schema and tables with least privilege (re-runnable): nothing for PUBLIC, an INSERT-only loader, SELECT-only readers')
    .requiredOption('--url <url>', URL_HELP)
    .option('--schema <name>', 'schema to create', 'clari')
    .option('--reader <role>', 'a role that may only read (repeatable; created NOLOGIN if missing)', collect, [])
    .option('--loader <role>', 'the role that loads exports (INSERT only; created NOLOGIN if missing)')
    .option('--rls', 'row-level security by hierarchy: readers see forecast users/entries only through *_scoped views')
    .option('--scope <ROLE=HIERARCHY_ID>', 'with --rls: let reader ROLE see hierarchy node HIERARCHY_ID and below (repeatable)', collect, [])
    .option('--json', 'print the result as JSON')
    .action(async (opts: { url: string; schema: string; reader: string[]; loader?: string; rls?: boolean; scope: string[]; json?: boolean }) => {
      const r = await initWarehouse({ target: opts.url, schema: opts.schema, readers: opts.reader, loader: opts.loader, rls: opts.rls, scopes: opts.scope, warn });
      if (opts.json) return writeJson(r);
      say(`warehouse ${r.target}: schema ${r.schema} ready (${r.tables.length} tables, owner ${r.owner})`);
      say(`  PUBLIC: no privileges on the schema or its tables`);
      if (r.loader) say(`  loader ${r.loader}: INSERT, plus ${r.schema}.clear_job() and ${r.schema}.record_load(); cannot read the data`);
      for (const reader of r.readers) say(`  reader ${reader}: SELECT only${r.rls ? ' (forecast users/entries through the *_scoped views)' : ''}`);
      if (r.createdRoles.length) say(`  created roles (NOLOGIN): ${r.createdRoles.join(', ')}; grant them to login users with GRANT role TO user`);
      if (r.rls) say(`  row-level security: ${r.scopes.length} scope(s) added; manage them in ${r.schema}.reader_scopes`);
    });

  wh.command('load')
    .description('load an already-redacted export file into the warehouse (COPY, one transaction, replaces that job\'s rows)')
    .argument('<file>', 'the redacted export (JSON, NDJSON or CSV)')
    .requiredOption('--url <url>', URL_HELP)
    .requiredOption('--job-id <id>', 'the export job id (re-loading the same job replaces its rows)')
    .option('--kind <kind>', `export shape: ${KINDS.join(', ')}`, 'auto')
    .option('--format <format>', 'json | ndjson | csv (default: from the file name)')
    .option('--period <period>', 'fiscal period for the load log (default: from the data)')
    .option('--key-id <id>', 'key id of the pseudonymisation key the file was redacted with (for the load log)')
    .option('--schema <name>', 'schema to load into', 'clari')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { url: string; jobId: string; kind: string; format?: string; period?: string; keyId?: string; schema: string; json?: boolean }) => {
      const kind = oneOf(opts.kind, KINDS, '--kind');
      const format = opts.format ? oneOf(opts.format, ['json', 'ndjson', 'csv'] as const, '--format') : undefined;
      const r = await loadFileIntoWarehouse(file, {
        target: opts.url,
        format,
        kind,
        jobId: opts.jobId,
        period: opts.period,
        keyId: opts.keyId ?? null,
        schema: opts.schema,
        warn,
        onProgress: progressEnabled() ? (n) => process.stderr.write(`\r${n.toLocaleString('en-US')} records…`) : undefined,
      });
      if (progressEnabled()) process.stderr.write('\r');
      if (opts.json) return writeJson(r);
      const tables = Object.entries(r.rowCounts).map(([t, n]) => `${t} ${n}`).join(', ');
      say(`loaded job ${r.jobId} into ${r.target} (${r.schema}): ${r.totalRows} rows${tables ? ` (${tables})` : ''}${r.replacedRows ? `; replaced ${r.replacedRows} rows of the previous load` : ''}`);
    });

  wh.command('pseudonymize')
    .description('replace a column\'s values by their pseudonyms inside the warehouse (HMAC-SHA-256, identical to clariguard redact)')
    .requiredOption('--url <url>', URL_HELP)
    .requiredOption('--table <table>', 'TABLE or SCHEMA.TABLE')
    .requiredOption('--column <column>', 'a text column')
    .option('--kind <kind>', `pseudonym kind: ${SQL_KINDS.join(', ')}`, 'email')
    .option('--key <ref>', 'secret reference of the pseudonymisation key', DEFAULT_KEY_REF)
    .option('--method <method>', 'auto | pgcrypto | sha256 (built-in sha256 with padded keys, no extension needed)', 'auto')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { url: string; table: string; column: string; kind: string; key: string; method: string; json?: boolean }) => {
      const kind = oneOf(opts.kind, SQL_KINDS, '--kind');
      const method = oneOf(opts.method, ['auto', 'pgcrypto', 'sha256'] as const, '--method');
      const { key } = await loadPseudonymKey(opts.key);
      const r = await pseudonymizeColumn({ target: opts.url, table: opts.table, column: opts.column, kind, key, method, warn });
      if (opts.json) return writeJson(r);
      say(`${r.table}.${r.column}: ${r.updated} value(s) pseudonymised as ${r.kind} with key ${r.keyId} (${r.method})${r.skipped ? `; ${r.skipped} already pseudonymised, left alone` : ''}`);
    });

  wh.command('session-keys')
    .description('the values a session needs for the generated SQL (hex key, or the HMAC padded keys): key-equivalent, masked unless --reveal')
    .requiredOption('--dialect <dialect>', SQL_DIALECTS.join(' | '))
    .option('--key <ref>', 'secret reference of the pseudonymisation key', DEFAULT_KEY_REF)
    .option('--reveal', 'print NAME=VALUE with the raw values, for piping into your driver configuration')
    .action(async (opts: { dialect: string; key: string; reveal?: boolean }) => {
      const dialect = oneOf(opts.dialect, SQL_DIALECTS, '--dialect') as SqlDialect;
      const { key, keyId } = await loadPseudonymKey(opts.key);
      const settings = Object.entries(sessionKeySettings(key, dialect)).map(([name, v]) => [name, new SecretValue(v)] as const);
      if (opts.reveal) process.stdout.write(settings.map(([name, v]) => `${name}=${v.reveal()}\n`).join(''));
      else writeOut(settings.map(([name, v]) => `${name}=${v.masked()}`).join('\n'));
      say(`key ${keyId}: these values are as sensitive as the key itself; pass them as session settings or bound parameters, never as SQL literals`);
    });

  wh.command('sql')
    .description('print SQL that computes the same pseudonyms in postgres, snowflake or bigquery (no key inside; the session supplies it)')
    .requiredOption('--dialect <dialect>', SQL_DIALECTS.join(' | '))
    .option('--kind <kind>', `pseudonym kind: ${SQL_KINDS.join(', ')}`, 'email')
    .option('--table <table>', 'with --column: an UPDATE of that column instead of a SELECT of one bound value')
    .option('--column <column>', 'the column to pseudonymise in place')
    .option('--out <file>', 'write to a file instead of stdout')
    .action((opts: { dialect: string; kind: string; table?: string; column?: string; out?: string }) => {
      const sql = generatePseudonymSql({
        dialect: oneOf(opts.dialect, SQL_DIALECTS, '--dialect') as SqlDialect,
        kind: oneOf(opts.kind, SQL_KINDS, '--kind') as SqlPseudonymKind,
        table: opts.table,
        column: opts.column,
      });
      if (opts.out) {
        writeFileAtomicSync(opts.out, sql, 0o644);
        say(`wrote ${opts.out}`);
      } else writeOut(sql);
    });
}
