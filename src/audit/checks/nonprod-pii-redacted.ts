import { relative, resolve } from 'node:path';
import type pg from 'pg';
import type { WarehouseConfig } from '../config.js';
import { plural } from '../mask.js';
import { connectWarehouse, quoteIdent } from '../pg.js';
import { PiiSampler } from '../pii.js';
import { verifyRedaction } from '../../redact/index.js';
import { reasonOf } from '../token.js';
import type { AuditCheck, AuditContext, CheckLocation, CheckStatus } from '../types.js';
import { walk } from '../walk.js';
import { combineParts } from './warehouse-access-controlled.js';

interface Part {
  status: CheckStatus;
  evidence: string[];
  locations?: CheckLocation[];
}

interface ColumnTally {
  sampled: number;
  emails: number;
  phones: number;
  names: number;
  digests: number;
  examples: Set<string>;
}

const REMEDIATION =
  'Load non-production warehouses only through `clariguard export --redact` / `clariguard warehouse` pseudonymisation (HMAC with a secret key, never a bare SHA-256 of a name or email), re-load the affected tables, and delete unredacted export files.';

/** Samples every text-like column of every table in a non-production warehouse schema. */
export async function sampleWarehouse(client: pg.Client, w: WarehouseConfig, sampler: PiiSampler, rows: number): Promise<Part> {
  const label = `${w.name} (${w.schema})`;
  const cols = await client.query<{ relname: string; attname: string; reltuples: number }>(
    `select c.relname, a.attname, greatest(c.reltuples, 0)::float8 as reltuples
       from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
       join pg_type t on t.oid = a.atttypid
      where n.nspname = $1 and c.relkind in ('r','m','p','f','v') and a.attnum > 0 and not a.attisdropped
        and (t.typcategory = 'S' or t.typname in ('json','jsonb') or (t.typcategory = 'A' and t.typelem in (select oid from pg_type where typcategory = 'S')))
      order by c.relname, a.attnum`,
    [w.schema],
  );
  if (!cols.rows.length) return { status: 'skip', evidence: [`${label}: no tables with text columns in schema ${w.schema}`] };
  const byTable = new Map<string, { cols: string[]; tuples: number }>();
  for (const r of cols.rows) {
    const t = byTable.get(r.relname) ?? { cols: [], tuples: r.reltuples };
    t.cols.push(r.attname);
    byTable.set(r.relname, t);
  }
  const evidence: string[] = [];
  let failed = false;
  let sampledValues = 0;
  let reversed = 0;
  let unreadable = 0;
  for (const [table, t] of byTable) {
    const fq = `${quoteIdent(w.schema)}.${quoteIdent(table)}`;
    // Large tables: a Bernoulli sample spreads the rows over the table instead of reading its first pages.
    const pct = t.tuples > rows * 10 ? Math.min(100, (rows * 300) / t.tuples) : 0;
    const sql = `select ${t.cols.map((c) => `${quoteIdent(c)}::text`).join(', ')} from ${fq}${pct ? ` tablesample bernoulli (${pct.toFixed(6)})` : ''} limit ${rows}`;
    let res;
    try {
      res = await client.query({ text: sql, rowMode: 'array' });
    } catch (e) {
      // One unreadable table (no SELECT for the audit's role) must not hide the others.
      unreadable++;
      evidence.push(`${label}: ${w.schema}.${table} not sampled: ${reasonOf(e)}`);
      continue;
    }
    const tallies = t.cols.map<ColumnTally>(() => ({ sampled: 0, emails: 0, phones: 0, names: 0, digests: 0, examples: new Set() }));
    for (const row of res.rows as (string | null)[][]) {
      row.forEach((v, i) => {
        if (v === null || v === '') return;
        const tally = tallies[i];
        tally.sampled++;
        sampledValues++;
        const f = sampler.inspect(v);
        if (f.emails.length) tally.emails++;
        if (f.phones.length) tally.phones++;
        if (f.names.length) tally.names++;
        if (f.digests.length) tally.digests++;
        for (const ex of [...f.emails, ...f.phones, ...f.names, ...f.digests.map((d) => d.who)].slice(0, 2)) if (tally.examples.size < 3) tally.examples.add(ex);
      });
    }
    tallies.forEach((tally, i) => {
      const what = [
        tally.emails && `${tally.emails} email address${tally.emails === 1 ? '' : 'es'}`,
        tally.phones && `${tally.phones} phone number${tally.phones === 1 ? '' : 's'}`,
        tally.names && `${tally.names} roster name${tally.names === 1 ? '' : 's'}`,
        tally.digests && `${tally.digests} unkeyed SHA-256 digest${tally.digests === 1 ? '' : 's'} reversed from the roster`,
      ].filter(Boolean);
      if (!what.length) return;
      failed = true;
      reversed += tally.digests;
      evidence.push(`${label}: ${w.schema}.${table}.${t.cols[i]}: ${what.join(', ')} in ${tally.sampled} sampled values (e.g. ${[...tally.examples].join(', ')})`);
    });
  }
  if (reversed) evidence.push(`${label}: reversed ${plural(reversed, 'value')} to roster members from unkeyed digests`);
  if (!failed && unreadable < byTable.size) {
    evidence.push(`${label}: ${plural(sampledValues, 'sampled value')} in ${plural(byTable.size - unreadable, 'table')} hold no emails, phone numbers, roster names or reversible digests`);
  }
  const status: CheckStatus = failed ? 'fail' : unreadable === byTable.size ? 'skip' : unreadable ? 'warn' : 'pass';
  return { status, evidence };
}

async function checkExportFiles(ctx: AuditContext): Promise<Part | null> {
  const files = ctx.exportPaths.flatMap((p) => walk(p)).map((e) => e.path);
  if (!files.length) return null;
  const evidence: string[] = [];
  const locations: CheckLocation[] = [];
  let failed = false;
  let skipped = 0;
  let reversed = 0;
  const roster = ctx.config.roster ? resolve(ctx.baseDir, ctx.config.roster) : undefined;
  for (const file of files) {
    const shown = relative(ctx.baseDir, file) || file;
    let r;
    try {
      r = await verifyRedaction(file, { roster });
    } catch (e) {
      skipped++;
      evidence.push(`${shown}: not verified: ${reasonOf(e)}`);
      continue;
    }
    reversed += r.reversed;
    if (r.clean) continue;
    failed = true;
    const kinds = new Map<string, number>();
    for (const f of r.findings) kinds.set(f.kind, (kinds.get(f.kind) ?? 0) + 1);
    const lines = [...new Set(r.findings.map((f) => f.line))].slice(0, 5);
    evidence.push(`${shown}: ${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}${lines.length ? ` (lines ${lines.join(', ')}${r.findings.length > 5 ? ', …' : ''})` : ''}${r.reversed ? `; ${r.reversed} digests reversed from the roster` : ''}`);
    locations.push({ file: shown, line: r.findings[0]?.line });
  }
  if (reversed) evidence.push(`export files: reversed ${plural(reversed, 'value')} to roster members from unkeyed digests`);
  if (!failed) evidence.push(`${plural(files.length - skipped, 'export file')} under exportPaths verified redacted`);
  const status: CheckStatus = failed ? 'fail' : skipped === files.length ? 'skip' : skipped ? 'warn' : 'pass';
  return { status, evidence, locations };
}

export const nonprodPiiRedacted: AuditCheck = {
  id: 'nonprod-pii-redacted',
  title: 'Non-production data and export files hold no PII',
  description:
    'Samples values from every text column of non-production warehouses and reads the export files: no email addresses, phone numbers or roster names, and pseudonyms are keyed (unkeyed SHA-256 digests that the roster reverses are a failure, counted in the evidence).',
  remediation: REMEDIATION,
  configKeys: ['warehouses', 'exportPaths', 'roster'],
  async run(ctx) {
    const parts: Part[] = [];
    if (!ctx.roster) parts.push({ status: 'warn', evidence: ['no roster configured: roster names and unkeyed digests cannot be recognised, only emails and phone numbers'] });
    const sampler = new PiiSampler(ctx.roster);
    let nonProd = 0;
    for (const w of ctx.config.warehouses) {
      if (w.environment === 'production') continue;
      nonProd++;
      const c = await connectWarehouse(ctx, w);
      if (!c.ok) {
        parts.push({ status: 'skip', evidence: [`${w.name}: not checked: ${c.reason}`] });
        continue;
      }
      try {
        parts.push(await sampleWarehouse(c.value, w, sampler, ctx.config.sampleRows));
      } catch (e) {
        parts.push({ status: 'skip', evidence: [`${w.name}: not checked: query failed: ${reasonOf(e)}`] });
      } finally {
        await c.value.end().catch(() => undefined);
      }
    }
    const files = await checkExportFiles(ctx);
    if (files) parts.push(files);
    if (!nonProd && !files) {
      return {
        status: 'skip',
        evidence: ['no non-production warehouse configured and no export files under exportPaths'],
        remediation: this.remediation,
      };
    }
    const prod = ctx.config.warehouses.length - nonProd;
    const r = combineParts(parts);
    if (prod) r.evidence.push(`${plural(prod, 'production warehouse')} not sampled (real data is expected there)`);
    return { ...r, remediation: this.remediation };
  },
};
