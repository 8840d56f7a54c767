import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAudit, type AuditOptions } from '../../src/audit/runner.js';
import { AUDIT_FORMATS, formatReport } from '../../src/audit/report.js';
import { createPseudonymizer } from '../../src/redact/pseudonym.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { expectNoLeak } from '../helpers/canary.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { commitAll, gitInit, ROSTER_CSV, ROSTER_EMAILS, write } from './fixtures.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
let server: PgServer;
let t: { dir: string; cleanup: () => void };
let env: Record<string, string | undefined>;

beforeAll(async () => {
  server = await startPostgres();
  t = tempDir('clariguard-audit-wh-');
  // The password only exists to prove a driver error can never print it.
  env = { WH_URL: server.url.replace('postgres@', 'postgres:pw-never-printed-7c1e@'), PATH: process.env.PATH };
  write(join(t.dir, 'people.csv'), ROSTER_CSV);
  const c = new pg.Client({ connectionString: server.url });
  await c.connect();
  const p = createPseudonymizer(Buffer.alloc(32, 7));
  await c.query(`
    create role clari_loader nologin;
    create role clari_reader nologin;
    create role alice login in role clari_reader;
    create role mallory login;

    create schema clari_good authorization clari_loader;
    set role clari_loader;
    create table clari_good.opportunities (id text primary key, owner_name text, owner_email text, amount numeric);
    create table clari_good.forecast (owner_id text, period text, note jsonb);
    reset role;
    grant usage on schema clari_good to clari_reader;
    grant select on all tables in schema clari_good to clari_reader;

    create schema clari_bad authorization clari_loader;
    set role clari_loader;
    create table clari_bad.opportunities (id text, owner_name text, owner_email text);
    create table clari_bad.forecast (owner_id text, period text);
    create table clari_bad.notes (body text);
    reset role;
    grant usage on schema clari_bad to public;
    grant select on clari_bad.opportunities to public;
    grant usage on schema clari_bad to clari_reader;
    grant select, insert, update on clari_bad.forecast to clari_reader;
    grant select on clari_bad.notes to mallory;
    grant create on schema clari_bad to clari_reader;
  `);
  const ins = async (schema: string, rows: [string, string, string, number][]) => {
    for (const r of rows) await c.query(`insert into ${schema}.opportunities values ($1, $2, $3, $4)`, r);
  };
  await ins('clari_good', [
    ['006A', p.name('Ana Silva'), p.email('ana.silva@acme.com'), 1000],
    ['006B', p.name('Bruno Costa'), p.email('bruno.costa@acme.com'), 2500.5],
    ['006C', p.name('Carla Mendes'), p.email('carla.mendes@acme.com'), 40000],
  ]);
  await c.query(`insert into clari_good.forecast values ($1, '2026_Q3', $2), ($3, '2026_Q3', '{"commit": 1200000, "owner": "${p.name('Ana Silva')}"}')`, [
    p.id('0055g00000A1b2C'),
    JSON.stringify({ commit: 20000 }),
    p.id('0055g00000A1b2D'),
  ]);
  // Unredacted copy: raw emails, a phone number, a roster name, and "pseudonyms" that are bare SHA-256.
  await c.query(`
    create schema clari_raw authorization clari_loader;
    create table clari_raw.opportunities (id text, owner_name text, owner_email text, owner_hash text, notes text);
    revoke all on schema clari_raw from public;
  `);
  await c.query(`insert into clari_raw.opportunities values
    ('006A', 'Ana Silva', 'ana.silva@acme.com', $1, 'call +1 415 555 0100 tomorrow'),
    ('006B', 'Person-' || $2, 'user-' || $3 || '@redacted.invalid', $4, 'renewal'),
    ('006C', 'n/a', 'n/a', $5, null)`, [
    sha('ana.silva@acme.com'),
    sha('bruno costa').slice(0, 12),
    sha('Carla Mendes').slice(0, 16),
    sha('  Bruno.Costa@ACME.com '.trim().toLowerCase()),
    sha('email:carla.mendes@acme.com'),
  ]);
  await c.end();
});

afterAll(() => {
  server?.stop();
  t?.cleanup();
});

async function audit(id: string, config: AuditOptions['config'], extra: Partial<AuditOptions> = {}) {
  const report = await runAudit({ config, baseDir: t.dir, only: [id], env, ...extra });
  for (const f of AUDIT_FORMATS) {
    const text = formatReport(report, f);
    expectNoLeak(text, 'pw-never-printed-7c1e', `${f} report`);
    for (const e of ROSTER_EMAILS) expect(text.toLowerCase()).not.toContain(e);
  }
  return report.checks[0];
}

const wh = (schema: string, environment: 'production' | 'non-production', readers = ['clari_reader']) => ({
  name: schema.replace('clari_', ''),
  url: 'env:WH_URL',
  environment,
  schema,
  readers,
});

describe('warehouse-access-controlled (real PostgreSQL)', () => {
  it('passes for a locked-down schema and private export files outside git', async () => {
    mkdirSync(join(t.dir, 'exports'), { mode: 0o700 });
    chmodSync(join(t.dir, 'exports'), 0o700);
    write(join(t.dir, 'exports', 'forecast-2026_Q3.csv'), 'owner,amount\nPerson-x,1\n', 0o600);
    const r = await audit('warehouse-access-controlled', { warehouses: [wh('clari_good', 'production')], exportPaths: ['exports'], repos: [] });
    const ev = r.evidence.join('\n');
    expect(r.status, ev).toBe('pass');
    expect(ev).toMatch(/good \(clari_good\): alice can SELECT all 2 tables \(member of a reader role\)/);
    expect(ev).toMatch(/clari_reader can SELECT all 2 tables \(reader\)/);
    expect(ev).toMatch(/postgres can SELECT all 2 tables \(superuser\)/);
    expect(ev).toMatch(/nothing granted to PUBLIC; reader roles are read-only/);
  });

  it('passes for private export files inside a repository when git ignores them', async () => {
    const repo = join(t.dir, 'pipeline-ok');
    gitInit(repo);
    write(join(repo, '.gitignore'), 'exports/\n');
    write(join(repo, 'main.py'), 'print(1)\n');
    commitAll(repo, 'init');
    mkdirSync(join(repo, 'exports', '2026'), { recursive: true, mode: 0o700 });
    chmodSync(join(repo, 'exports'), 0o700);
    chmodSync(join(repo, 'exports', '2026'), 0o700);
    write(join(repo, 'exports', '2026', 'forecast-net_arr.json'), '[]\n', 0o600);
    const r = await audit('warehouse-access-controlled', { warehouses: [wh('clari_good', 'production')], repos: ['pipeline-ok'], exportPaths: ['pipeline-ok/exports'] });
    expect(r.status, r.evidence.join('\n')).toBe('pass');
    expect(r.evidence).toContain('1 file under exportPaths');
  });

  it('fails for PUBLIC grants, unlisted readers, reader write privileges and CREATE', async () => {
    const r = await audit('warehouse-access-controlled', { warehouses: [wh('clari_bad', 'production')], repos: [] });
    const ev = r.evidence.join('\n');
    expect(r.status).toBe('fail');
    expect(ev).toContain('bad (clari_bad): schema clari_bad grants USAGE to PUBLIC');
    expect(ev).toContain('bad (clari_bad): table clari_bad.opportunities grants SELECT to PUBLIC');
    expect(ev).toMatch(/mallory can SELECT notes, opportunities but is not a listed reader/);
    expect(ev).toContain('bad (clari_bad): reader role clari_reader has INSERT, UPDATE on clari_bad.forecast');
    expect(ev).toContain('bad (clari_bad): reader role clari_reader can CREATE objects in schema clari_bad');
  });

  it('fails when a listed role is fine but another role reads through membership of an unlisted grantee', async () => {
    const c = new pg.Client({ connectionString: server.url });
    await c.connect();
    await c.query('create role analysts nologin; create role bob login in role analysts; grant usage on schema clari_good to analysts; grant select on clari_good.forecast to analysts');
    await c.end();
    try {
      const r = await audit('warehouse-access-controlled', { warehouses: [wh('clari_good', 'production')], repos: [] });
      expect(r.status).toBe('fail');
      expect(r.evidence.join('\n')).toMatch(/bob can SELECT forecast but is not a listed reader/);
    } finally {
      const d = new pg.Client({ connectionString: server.url });
      await d.connect();
      await d.query('revoke all on clari_good.forecast from analysts; revoke all on schema clari_good from analysts; drop role bob; drop role analysts');
      await d.end();
    }
  });

  it('fails for export files with loose modes, inside git and not ignored, and export files outside exportPaths', async () => {
    const repo = join(t.dir, 'pipeline');
    gitInit(repo);
    write(join(repo, 'main.py'), 'print(1)\n');
    write(join(repo, 'out', 'forecast.json'), '[]\n', 0o644);
    write(join(repo, 'tmp', 'clari-opportunities.csv'), 'id\n1\n');
    commitAll(repo, 'init');
    const r = await audit('warehouse-access-controlled', { warehouses: [wh('clari_good', 'production')], repos: ['pipeline'], exportPaths: ['pipeline/out'] });
    const ev = r.evidence.join('\n');
    expect(r.status).toBe('fail');
    expect(ev).toMatch(/pipeline\/out\/forecast\.json: file mode 0644, want 0600/);
    expect(ev).toMatch(/pipeline\/out\/forecast\.json: export file is tracked by git/);
    expect(ev).toMatch(/pipeline\/tmp\/clari-opportunities\.csv: looks like an exported file but is outside exportPaths/);
  });

  it('skips with the reason when the warehouse is unreachable, without printing the password', async () => {
    // A port just freed: nothing listens there (a fixed low port may be taken by a proxy on some machines).
    const { createServer } = await import('node:net');
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const down = { WH_URL: `postgres://postgres:pw-never-printed-7c1e@127.0.0.1:${port}/x`, PATH: process.env.PATH };
    const r = await audit('warehouse-access-controlled', { warehouses: [wh('clari_good', 'production')], repos: [] }, { env: down });
    expect(r.status).toBe('skip');
    expect(r.evidence.join('\n')).toMatch(new RegExp(`good: not checked: cannot connect to 127\\.0\\.0\\.1:${port}/x \\(ECONNREFUSED\\)`));
    expect(r.evidence.join('\n')).not.toContain('pw-never-printed');
    const none = await audit('warehouse-access-controlled', { repos: [] });
    expect(none.status).toBe('skip');
    expect(none.evidence[0]).toMatch(/no warehouse configured/);
  });
});

describe('nonprod-pii-redacted (real PostgreSQL)', () => {
  it('passes for keyed pseudonyms in a non-production warehouse', async () => {
    const r = await audit('nonprod-pii-redacted', { warehouses: [wh('clari_good', 'non-production')], roster: 'people.csv', repos: [] });
    expect(r.status, r.evidence.join('\n')).toBe('pass');
    expect(r.evidence.join('\n')).toMatch(/sampled values in 2 tables hold no emails, phone numbers, roster names or reversible digests/);
  });

  it('fails for raw emails, phones, roster names and reversible unkeyed SHA-256, counting the reversed', async () => {
    const r = await audit('nonprod-pii-redacted', { warehouses: [wh('clari_raw', 'non-production')], roster: 'people.csv', repos: [] });
    const ev = r.evidence.join('\n');
    expect(r.status).toBe('fail');
    expect(ev).toMatch(/clari_raw\.opportunities\.owner_email: 1 email address, 1 unkeyed SHA-256 digest reversed from the roster in 3 sampled values \(e\.g\. a\*\*\*@acme\.com, c\*\*\*@acme\.com\)/);
    expect(ev).toMatch(/clari_raw\.opportunities\.owner_name: 1 roster name, 1 unkeyed SHA-256 digest reversed from the roster/);
    expect(ev).toMatch(/clari_raw\.opportunities\.owner_hash: 3 unkeyed SHA-256 digests reversed from the roster/);
    expect(ev).toMatch(/clari_raw\.opportunities\.notes: 1 phone number/);
    expect(ev).toMatch(/reversed 5 values to roster members from unkeyed digests/);
  });

  it('warns (never passes) when the audit role cannot read some tables', async () => {
    const asAlice = { ...env, ALICE_URL: server.url.replace('postgres@', 'alice@') };
    const r = await audit('nonprod-pii-redacted', { warehouses: [{ ...wh('clari_bad', 'non-production'), url: 'env:ALICE_URL' }], roster: 'people.csv', repos: [] }, { env: asAlice });
    expect(r.status, r.evidence.join('\n')).toBe('warn');
    expect(r.evidence.join('\n')).toMatch(/bad \(clari_bad\): clari_bad\.notes not sampled: permission denied for table notes/);
  });

  it('does not sample production warehouses; skips with nothing non-production to check', async () => {
    const r = await audit('nonprod-pii-redacted', { warehouses: [wh('clari_raw', 'production')], roster: 'people.csv', repos: [] });
    expect(r.status).toBe('skip');
    expect(r.evidence[0]).toMatch(/no non-production warehouse configured and no export files/);
  });

  it('checks export files with the redaction verifier', async () => {
    const p = createPseudonymizer(Buffer.alloc(32, 9));
    write(join(t.dir, 'ex-good', 'opps.csv'), `id,owner,email\n1,${p.name('Ana Silva')},${p.email('ana.silva@acme.com')}\n`, 0o600);
    const good = await audit('nonprod-pii-redacted', { exportPaths: ['ex-good'], roster: 'people.csv', repos: [] });
    expect(good.status, good.evidence.join('\n')).toBe('pass');
    write(join(t.dir, 'ex-bad', 'opps.csv'), `id,owner,email\n1,Ana Silva,ana.silva@acme.com\n2,x,${sha('bruno.costa@acme.com')}\n`, 0o600);
    const bad = await audit('nonprod-pii-redacted', { exportPaths: ['ex-bad'], roster: 'people.csv', repos: [] });
    expect(bad.status).toBe('fail');
    expect(bad.evidence.join('\n')).toMatch(/ex-bad\/opps\.csv: .*email.*\(lines 2, 3\); 1 digests reversed from the roster/);
  });
});

describe('clariguard audit against a real warehouse (CLI)', () => {
  it('fails with the grants as evidence in JSON, exit 1, and never prints the connection password', async () => {
    write(
      join(t.dir, 'wh.yml'),
      'repos: []\nwarehouses:\n  - {name: bad, url: "env:WH_URL", environment: production, schema: clari_bad, readers: [clari_reader]}\n  - {name: good, url: "env:WH_URL", environment: production, schema: clari_good, readers: [clari_reader]}\n',
    );
    const r = await runCli(['audit', '--config', 'wh.yml', '--only', 'warehouse-access-controlled', '--json'], { cwd: t.dir, env: { ...env, HOME: t.dir } });
    expectNoLeak(r.stdout + r.stderr, 'pw-never-printed-7c1e', 'CLI output');
    expect(r.code, r.stderr).toBe(1);
    const check = JSON.parse(r.stdout).checks[0];
    expect(check.status).toBe('fail');
    expect(check.evidence).toContain('bad (clari_bad): table clari_bad.opportunities grants SELECT to PUBLIC');
    expect(check.evidence).toContain('good (clari_good): nothing granted to PUBLIC; reader roles are read-only');
  });
});
