import { basename, relative, sep } from 'node:path';
import type pg from 'pg';
import type { WarehouseConfig } from '../config.js';
import { ignoredPaths, trackedPaths, workTreeOf } from '../git.js';
import { plural } from '../mask.js';
import { connectWarehouse, ROW_RELKINDS } from '../pg.js';
import { reasonOf } from '../token.js';
import type { AuditCheck, AuditContext, CheckLocation, CheckStatus } from '../types.js';
import { walk } from '../walk.js';

interface Part {
  status: CheckStatus;
  evidence: string[];
  locations?: CheckLocation[];
}

const REMEDIATION =
  'REVOKE ALL ON SCHEMA <schema> FROM PUBLIC; REVOKE ALL ON ALL TABLES IN SCHEMA <schema> FROM PUBLIC; grant SELECT only to the reader roles (GRANT <reader> TO <user> for people); REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA <schema> FROM <reader>; `clariguard warehouse init` sets this up. Keep exports under exportPaths with `chmod 600` files, `chmod 700` directories, ignored by git.';

/** Privileges of PUBLIC, who can SELECT, and what reader roles can write, over a live connection. */
export async function auditWarehouseGrants(client: pg.Client, w: WarehouseConfig): Promise<Part> {
  const label = `${w.name} (${w.schema})`;
  const evidence: string[] = [];
  let failed = false;
  let warned = false;
  const ns = await client.query<{ oid: number; owner: string }>(
    `select n.oid::int as oid, pg_get_userbyid(n.nspowner) as owner from pg_namespace n where n.nspname = $1`,
    [w.schema],
  );
  if (!ns.rows.length) return { status: 'skip', evidence: [`${label}: schema ${w.schema} does not exist, nothing to check`] };
  const nsOid = ns.rows[0].oid;

  const publicSchema = await client.query<{ privilege_type: string }>(
    `select a.privilege_type from pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a where n.oid = $1 and a.grantee = 0 order by 1`,
    [nsOid],
  );
  if (publicSchema.rows.length) {
    failed = true;
    evidence.push(`${label}: schema ${w.schema} grants ${publicSchema.rows.map((r) => r.privilege_type).join(', ')} to PUBLIC`);
  }
  const publicTables = await client.query<{ relname: string; privs: string }>(
    `select c.relname, string_agg(a.privilege_type, ', ' order by a.privilege_type) as privs
       from pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
      where c.relnamespace = $1 and c.relkind in ${ROW_RELKINDS} and a.grantee = 0
      group by c.relname order by c.relname`,
    [nsOid],
  );
  for (const r of publicTables.rows) {
    failed = true;
    evidence.push(`${label}: table ${w.schema}.${r.relname} grants ${r.privs} to PUBLIC`);
  }
  const publicColumns = await client.query<{ relname: string; attname: string; privs: string }>(
    `select c.relname, att.attname, string_agg(a.privilege_type, ', ' order by a.privilege_type) as privs
       from pg_attribute att join pg_class c on c.oid = att.attrelid, aclexplode(att.attacl) a
      where c.relnamespace = $1 and att.attacl is not null and a.grantee = 0
      group by c.relname, att.attname order by 1, 2`,
    [nsOid],
  );
  for (const r of publicColumns.rows) {
    failed = true;
    evidence.push(`${label}: column ${w.schema}.${r.relname}.${r.attname} grants ${r.privs} to PUBLIC`);
  }
  const publicDefaults = await client.query<{ role: string; privs: string; global: boolean }>(
    `select pg_get_userbyid(d.defaclrole) as role, d.defaclnamespace = 0 as global,
            string_agg(a.privilege_type, ', ' order by a.privilege_type) as privs
       from pg_default_acl d, aclexplode(d.defaclacl) a
      where (d.defaclnamespace = $1 or d.defaclnamespace = 0) and d.defaclobjtype = 'r' and a.grantee = 0
      group by 1, 2 order by 1`,
    [nsOid],
  );
  for (const r of publicDefaults.rows) {
    failed = true;
    evidence.push(`${label}: default privileges of ${r.role}${r.global ? ' (all schemas)' : ''} grant ${r.privs} on new tables to PUBLIC`);
  }

  const tables = await client.query<{ relname: string; owner: string }>(
    `select c.relname, pg_get_userbyid(c.relowner) as owner from pg_class c where c.relnamespace = $1 and c.relkind in ${ROW_RELKINDS} order by 1`,
    [nsOid],
  );
  evidence.push(`${label}: ${plural(tables.rows.length, 'table')}; owners: ${[...new Set(tables.rows.map((t) => t.owner))].join(', ') || 'none'}`);

  const readers = w.readers;
  const existing = await client.query<{ rolname: string }>(`select rolname from pg_roles where rolname = any($1::text[])`, [readers]);
  for (const missing of readers.filter((r) => !existing.rows.some((e) => e.rolname === r))) {
    warned = true;
    evidence.push(`${label}: reader role ${missing} does not exist`);
  }

  // Every role that can SELECT from any table, directly, through PUBLIC, through membership or pg_read_all_data.
  const selectors = await client.query<{ rolname: string; rolsuper: boolean; tables: string[]; allowed: boolean; via: string }>(
    `select r.rolname, r.rolsuper, array_agg(c.relname::text order by c.relname) as tables,
            bool_and(r.rolname = any($2::text[])
                  or r.rolsuper
                  or pg_has_role(r.oid, c.relowner, 'USAGE')
                  or exists (select 1 from pg_roles rr where rr.rolname = any($2::text[]) and pg_has_role(r.oid, rr.oid, 'USAGE'))) as allowed,
            case when bool_or(r.rolsuper) then 'superuser'
                 when bool_and(pg_has_role(r.oid, c.relowner, 'USAGE')) then 'owner'
                 when r.rolname = any($2::text[]) then 'reader'
                 when exists (select 1 from pg_roles rr where rr.rolname = any($2::text[]) and pg_has_role(r.oid, rr.oid, 'USAGE')) then 'member of a reader role'
                 else 'grant' end as via
       from pg_roles r cross join pg_class c
      where c.relnamespace = $1 and c.relkind in ${ROW_RELKINDS}
        and r.rolname !~ '^pg_'
        and has_any_column_privilege(r.oid, c.oid, 'SELECT')
      group by r.rolname, r.rolsuper, r.oid order by r.rolname`,
    [nsOid, readers],
  );
  const total = tables.rows.length;
  for (const s of selectors.rows) {
    const scope = s.tables.length === total ? `all ${total} tables` : s.tables.join(', ');
    if (s.allowed) {
      evidence.push(`${label}: ${s.rolname} can SELECT ${scope} (${s.via})`);
    } else {
      failed = true;
      evidence.push(`${label}: ${s.rolname} can SELECT ${scope} but is not a listed reader (readers: ${readers.join(', ') || 'none'})`);
    }
  }

  const writes = await client.query<{ rolname: string; relname: string; privs: string }>(
    `select rr.rolname, c.relname, string_agg(p.priv, ', ' order by p.priv) as privs
       from pg_roles rr cross join pg_class c cross join unnest(array['INSERT','UPDATE','DELETE','TRUNCATE']) p(priv)
      where rr.rolname = any($2::text[]) and c.relnamespace = $1 and c.relkind in ${ROW_RELKINDS}
        and case when p.priv in ('INSERT','UPDATE') then has_any_column_privilege(rr.oid, c.oid, p.priv)
                 else has_table_privilege(rr.oid, c.oid, p.priv) end
      group by 1, 2 order by 1, 2`,
    [nsOid, readers],
  );
  for (const r of writes.rows) {
    failed = true;
    evidence.push(`${label}: reader role ${r.rolname} has ${r.privs} on ${w.schema}.${r.relname}`);
  }
  const creators = await client.query<{ rolname: string }>(
    `select rr.rolname from pg_roles rr where rr.rolname = any($2::text[]) and has_schema_privilege(rr.oid, $1::oid, 'CREATE') order by 1`,
    [nsOid, readers],
  );
  for (const r of creators.rows) {
    failed = true;
    evidence.push(`${label}: reader role ${r.rolname} can CREATE objects in schema ${w.schema}`);
  }
  if (!failed && !writes.rows.length) evidence.push(`${label}: nothing granted to PUBLIC; reader roles are read-only`);
  return { status: failed ? 'fail' : warned ? 'warn' : 'pass', evidence };
}

const EXPORT_NAME = /(clari|forecast)[^/]*\.(csv|tsv|json|jsonl|ndjson|parquet|xlsx)(\.gz)?$|(^|[-_.])exports?([-_.][^/]*)?\.(csv|tsv|jsonl|ndjson|parquet|xlsx)(\.gz)?$/i;

/** Looks like an exported Clari data file by its name. */
export function looksLikeExportFile(name: string): boolean {
  return EXPORT_NAME.test(name);
}

function under(path: string, roots: string[]): boolean {
  return roots.some((r) => path === r || path.startsWith(r.endsWith(sep) ? r : r + sep));
}

/** Export files: modes under exportPaths, outside git, and no export-looking files elsewhere in the repos. */
export async function auditExportFiles(ctx: AuditContext): Promise<Part> {
  const evidence: string[] = [];
  const locations: CheckLocation[] = [];
  let failed = false;
  const show = (p: string) => relative(ctx.baseDir, p) || '.';
  let files = 0;
  for (const root of ctx.exportPaths) {
    const entries = walk(root, { dirs: true, skip: new Set(['.git']) });
    if (!entries.length) {
      evidence.push(`${show(root)}: does not exist yet`);
      continue;
    }
    for (const e of entries) {
      const mode = e.stat.mode & 0o777;
      const dir = e.stat.isDirectory();
      if (!dir) files++;
      if (mode & 0o077) {
        failed = true;
        locations.push({ file: show(e.path) });
        evidence.push(`${show(e.path)}: ${dir ? 'directory' : 'file'} mode ${mode.toString(8).padStart(4, '0')}, want ${dir ? '0700' : '0600'}`);
      }
    }
    const tree = await workTreeOf(entries[0].stat.isDirectory() ? root : ctx.baseDir);
    if (tree) {
      const rels = entries.filter((e) => !e.stat.isDirectory()).map((e) => relative(tree, e.path));
      const rootRel = relative(tree, root) || '.';
      const tracked = await trackedPaths(tree, [rootRel]);
      const ignored = await ignoredPaths(tree, [rootRel, ...rels]);
      for (const t of tracked) {
        failed = true;
        locations.push({ file: show(`${tree}/${t}`) });
        evidence.push(`${show(`${tree}${sep}${t}`)}: export file is tracked by git`);
      }
      const rootIgnored = ignored.has(rootRel);
      const exposed = rels.filter((r) => !rootIgnored && !ignored.has(r) && !tracked.has(r));
      if (!rootIgnored && (exposed.length || !rels.length)) {
        failed = true;
        evidence.push(`${show(root)}: inside the git work tree ${show(tree)} and not ignored${exposed.length ? ` (${plural(exposed.length, 'file')} could be committed)` : ''}`);
      }
    }
  }
  if (ctx.exportPaths.length) evidence.push(`${plural(files, 'file')} under exportPaths`);

  // Export-looking files anywhere else in the repositories.
  const stray: string[] = [];
  for (const repo of ctx.repos) {
    for (const e of walk(repo)) {
      if (under(e.path, ctx.exportPaths)) continue;
      if (looksLikeExportFile(basename(e.path))) stray.push(e.path);
    }
  }
  for (const p of [...new Set(stray)].sort()) {
    failed = true;
    locations.push({ file: show(p) });
    evidence.push(`${show(p)}: looks like an exported file but is outside exportPaths`);
  }
  if (!ctx.exportPaths.length && !stray.length) return { status: 'skip', evidence: ['no exportPaths configured and no export files found in the repositories'] };
  return { status: failed ? 'fail' : 'pass', evidence, locations };
}

export function combineParts(parts: Part[]): Part {
  const evidence = parts.flatMap((p) => p.evidence);
  const locations = parts.flatMap((p) => p.locations ?? []);
  const has = (s: CheckStatus) => parts.some((p) => p.status === s);
  let status: CheckStatus;
  if (has('fail')) status = 'fail';
  else if (has('warn')) status = 'warn';
  else if (!parts.length || parts.every((p) => p.status === 'skip')) status = 'skip';
  // Part of the audit could not run: never report that as a clean pass.
  else if (has('skip')) status = 'warn';
  else status = 'pass';
  return { status, evidence, locations };
}

export const warehouseAccessControlled: AuditCheck = {
  id: 'warehouse-access-controlled',
  title: 'Warehouse schemas and export files are access-controlled',
  description:
    'For each PostgreSQL warehouse, over a real connection: the Clari schema and its tables grant nothing to PUBLIC, only the listed reader roles (and their members, the table owners and superusers) can SELECT, reader roles have no INSERT/UPDATE/DELETE/TRUNCATE or CREATE; exported files live only under exportPaths, with mode 0600 (directories 0700), outside git.',
  remediation: REMEDIATION,
  configKeys: ['warehouses', 'exportPaths'],
  async run(ctx) {
    const parts: Part[] = [];
    for (const w of ctx.config.warehouses) {
      const c = await connectWarehouse(ctx, w);
      if (!c.ok) {
        parts.push({ status: 'skip', evidence: [`${w.name}: not checked: ${c.reason}`] });
        continue;
      }
      try {
        parts.push(await auditWarehouseGrants(c.value, w));
      } catch (e) {
        parts.push({ status: 'skip', evidence: [`${w.name}: not checked: query failed: ${reasonOf(e)}`] });
      } finally {
        await c.value.end().catch(() => undefined);
      }
    }
    const files = await auditExportFiles(ctx);
    if (!ctx.config.warehouses.length) {
      // Nothing to connect to: the check did not run, whatever the export files say (unless they fail).
      const none = 'no warehouse configured (warehouses: in the config)';
      // A failure leads (one-line summaries show the first line); a skip says why first.
      const evidence = files.status === 'fail' ? [...files.evidence, none] : [none, ...files.evidence];
      return { status: files.status === 'fail' ? 'fail' : 'skip', evidence, locations: files.locations, remediation: this.remediation };
    }
    parts.push(files);
    const r = combineParts(parts);
    return { ...r, remediation: this.remediation };
  },
};
