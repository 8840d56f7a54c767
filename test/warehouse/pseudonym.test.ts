import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createPseudonymizer, keyIdOf } from '../../src/redact/pseudonym.js';
import {
  generatePseudonymSql,
  openWarehouse,
  paddedKeys,
  pseudonymizeColumn,
  resolveWarehouseTarget,
  sessionKeySettings,
  SQL_DIALECTS,
  SQL_KINDS,
  type WarehouseDb,
} from '../../src/warehouse/index.js';
import { canary, expectNoLeak } from '../helpers/canary.js';
import { isolatedEnv, runCli, tempDir } from '../helpers/cli.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';

/**
 * Values for the equality check: ASCII, every whitespace character JavaScript's \s collapses, Latin-1, Latin
 * Extended-A, Greek, Cyrillic, CJK, combining marks and astral emoji. Excluded, and documented in
 * docs/warehouse.md: U+0130 (İ lower-cases to two code points in JavaScript, one in PostgreSQL), capital
 * sigma (JavaScript applies the word-final ς rule, PostgreSQL does not) and letters newer than the server's
 * Unicode tables.
 */
const WS = ['\t', '\n', '\u000b', '\f', '\r', ' ', '\u00a0', '\u1680', '\u2000', '\u2005', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff'];
const range = (a: number, b: number, skip: number[] = []): string[] => {
  const out: string[] = [];
  for (let c = a; c <= b; c++) if (!skip.includes(c)) out.push(String.fromCodePoint(c));
  return out;
};
const ALPHABET = [
  ...range(0x21, 0x7e),
  ...range(0xc0, 0xff),
  ...range(0x100, 0x17f, [0x130]),
  ...range(0x391, 0x3c9, [0x3a2, 0x3a3]),
  ...range(0x410, 0x44f),
  ...range(0x4e00, 0x4e20),
  '\u0301', '\u0308', '😀', '🎉', '𝔘',
];
const charArb = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...ALPHABET) }, { weight: 2, arbitrary: fc.constantFrom(...WS) });
const valueArb = fc.array(charArb, { minLength: 0, maxLength: 24 }).map((a) => a.join(''));
const EDGE = ['', ' ', '  Ana   Silva ', 'ANA SILVA', 'ana@ACME.com', ' ana@acme.com\n', '\u00a0Zoë\u3000Ñúñez\ufeff', 'a\t\n\u000b\f\rb', 'Ελένη Παπαδοπούλου', 'Дмитрий', '王小明', "O'Brien", 'x'.repeat(500)];

function values(n: number, seed: number): string[] {
  return [...EDGE, ...fc.sample(valueArb, { seed, numRuns: n - EDGE.length })];
}

let server: PgServer;
let admin: pg.Client;
const tmp = tempDir('clariguard-wh-pseudo-');
const keyText = canary('cgkey');
const key = Buffer.from(keyText, 'utf8'); // what loadPseudonymKey makes of a non-base64 secret
const pads = paddedKeys(key);
const p = createPseudonymizer(key);

function expectKeyAbsent(text: string | Buffer, where: string): void {
  expectNoLeak(text, keyText, where);
  const hay = typeof text === 'string' ? text : text.toString('latin1');
  for (const material of [key.toString('hex'), pads.ipad, pads.opad]) expect(hay.includes(material), `key material in ${where}`).toBe(false);
}

async function fill(target: WarehouseDb | pg.Client, table: string, vals: string[]): Promise<void> {
  const db = target as { query(sql: string, params?: unknown[]): Promise<unknown> };
  await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, email text, name text, email2 text)`);
  await db.query(`INSERT INTO ${table} SELECT i, v, v, v FROM unnest($1::text[]) WITH ORDINALITY AS t(v, i)`, [vals]);
  await db.query(`INSERT INTO ${table} VALUES (0, NULL, NULL, NULL)`);
}

beforeAll(async () => {
  server = await startPostgres();
  admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  server?.stop();
  tmp.cleanup();
});

describe('in-warehouse pseudonyms equal createPseudonymizer()', () => {
  test('PostgreSQL: 10,000 random values, pgcrypto HMAC and the padded-key SHA-256 construction', async () => {
    const vals = values(10_000, 42);
    await fill(admin, 'people', vals);
    const email = await pseudonymizeColumn({ target: server.url, table: 'public.people', column: 'email', kind: 'email', key, method: 'pgcrypto' });
    expect(email).toMatchObject({ updated: vals.length, skipped: 0, method: 'pgcrypto', keyId: keyIdOf(key) });
    const name = await pseudonymizeColumn({ target: server.url, table: 'people', column: 'name', kind: 'name', key });
    expect(name.method).toBe('pgcrypto');
    // The construction Snowflake and BigQuery use (SHA-256 over K⊕ipad / K⊕opad), executed by PostgreSQL.
    const padded = await pseudonymizeColumn({ target: server.url, table: 'people', column: 'email2', kind: 'email', key, method: 'sha256' });
    expect(padded.method).toBe('sha256');
    const rows = (await admin.query('SELECT id, email, name, email2 FROM people ORDER BY id')).rows;
    expect(rows[0]).toEqual({ id: 0, email: null, name: null, email2: null });
    let mismatches = 0;
    for (const r of rows.slice(1)) {
      const v = vals[r.id - 1];
      if (r.email !== p.email(v) || r.name !== p.name(v) || r.email2 !== p.email(v)) {
        mismatches++;
        if (mismatches < 5) expect({ v: [...v].map((c) => c.codePointAt(0)!.toString(16)), db: [r.email, r.name, r.email2] }).toEqual({ v: [...v].map((c) => c.codePointAt(0)!.toString(16)), db: [p.email(v), p.name(v), p.email(v)] });
      }
    }
    expect(mismatches).toBe(0);
    // Re-running leaves pseudonyms alone.
    const again = await pseudonymizeColumn({ target: server.url, table: 'people', column: 'email', kind: 'email', key });
    expect(again).toMatchObject({ updated: 0, skipped: vals.length });
  });

  test('the key is in no view, function, setting or server log line', async () => {
    const views = await admin.query('SELECT string_agg(definition, E\'\\n\') AS d FROM pg_views');
    expectKeyAbsent(views.rows[0].d ?? '', 'pg_views');
    const procs = await admin.query("SELECT string_agg(coalesce(prosrc, '') || ' ' || coalesce(array_to_string(proconfig, ','), ''), E'\\n') AS d FROM pg_proc");
    expectKeyAbsent(procs.rows[0].d ?? '', 'pg_proc');
    const settings = await admin.query("SELECT string_agg(coalesce(array_to_string(setconfig, ','), ''), E'\\n') AS d FROM pg_db_role_setting");
    expectKeyAbsent(settings.rows[0].d ?? '', 'pg_db_role_setting');
    const log = readFileSync(server.logFile);
    expect(log.toString('utf8')).toMatch(/UPDATE "public"\."people" SET "email"/); // log_statement=all really logs
    expectKeyAbsent(log, 'the server log');
  });

  test('the generated SQL, run as-is with the key as a startup setting, gives the same pseudonyms', async () => {
    const vals = values(500, 7);
    await fill(admin, 'gen', vals);
    for (const dialect of ['postgres', 'postgres-sha256'] as const) {
      const settings = sessionKeySettings(key, dialect);
      const c = new pg.Client({ connectionString: server.url, options: Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`).join(' ') });
      await c.connect();
      try {
        const col = dialect === 'postgres' ? 'email' : 'email2';
        await c.query(generatePseudonymSql({ dialect, kind: 'email', table: 'public.gen', column: col }));
        await c.query(generatePseudonymSql({ dialect, kind: 'name', table: 'gen', column: 'name' }).replace(/^UPDATE .*$/m, 'UPDATE "gen"'));
        const one = await c.query(generatePseudonymSql({ dialect, kind: 'name' }), ['  Ana   SILVA ']);
        expect(one.rows[0].pseudonym).toBe(p.name('ana silva'));
      } finally {
        await c.end();
      }
    }
    const rows = (await admin.query('SELECT id, email, name, email2 FROM gen WHERE id > 0 ORDER BY id')).rows;
    for (const r of rows) {
      const v = vals[r.id - 1];
      expect([r.email, r.email2]).toEqual([p.email(v), p.email(v)]);
      expect(r.name).toBe(p.name(v));
    }
  });

  test('the generated SQL of every dialect and kind holds no key material', () => {
    for (const dialect of SQL_DIALECTS) {
      for (const kind of SQL_KINDS) {
        for (const sql of [generatePseudonymSql({ dialect, kind }), generatePseudonymSql({ dialect, kind, table: 'db.clari.users', column: 'email' })]) {
          expectKeyAbsent(sql, `${dialect}/${kind} SQL`);
          expect(sql).toMatch(dialect === 'postgres' ? /current_setting\('clariguard\.key'\)/ : dialect === 'postgres-sha256' ? /clariguard\.ipad/ : dialect === 'snowflake' ? /\$CLARIGUARD_IPAD/ : /@clariguard_ipad/);
        }
      }
    }
    const sf = generatePseudonymSql({ dialect: 'snowflake', kind: 'email', table: 'db.s.users', column: 'email' });
    expect(sf).toMatch(/SHA2_BINARY\(CONCAT\(TO_BINARY\(\$CLARIGUARD_OPAD, 'HEX'\), SHA2_BINARY\(CONCAT\(TO_BINARY\(\$CLARIGUARD_IPAD, 'HEX'\)/);
    expect(sf).toMatch(/^UPDATE "db"\."s"\."users"$/m);
    const bq = generatePseudonymSql({ dialect: 'bigquery', kind: 'name' });
    expect(bq).toMatch(/TO_HEX\(SHA256\(CONCAT\(FROM_HEX\(@clariguard_opad\), SHA256\(CONCAT\(FROM_HEX\(@clariguard_ipad\)/);
    expect(bq).toMatch(/'Person-'/);
  });

  test('CLI: pseudonymize with the key from a secret reference, and sql, leak nothing', async () => {
    await fill(admin, 'cli_people', ['Ana Silva', ' ana silva ', 'Bo']);
    const env = isolatedEnv(tmp.dir, { CG_KEY: keyText, WAREHOUSE_URL: server.url });
    const r = await runCli(['warehouse', 'pseudonymize', '--url', 'env:WAREHOUSE_URL', '--table', 'cli_people', '--column', 'name', '--kind', 'name', '--key', 'env:CG_KEY', '--json'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ updated: 3, skipped: 0, keyId: keyIdOf(key), method: 'pgcrypto' });
    expectKeyAbsent(r.stdout + r.stderr, 'CLI output');
    const rows = (await admin.query('SELECT name FROM cli_people WHERE id > 0 ORDER BY id')).rows.map((x) => x.name);
    expect(rows).toEqual([p.name('Ana Silva'), p.name('Ana Silva'), p.name('Bo')]);
    const missing = await runCli(['warehouse', 'pseudonymize', '--url', 'env:WAREHOUSE_URL', '--table', 'nope', '--column', 'name', '--key', 'env:CG_KEY'], { env });
    expect(missing.code).toBe(66);
    expect(missing.stderr).toMatch(/no table nope/);
    for (const dialect of ['postgres', 'snowflake', 'bigquery']) {
      const s = await runCli(['warehouse', 'sql', '--dialect', dialect, '--kind', 'email', '--table', 'clari.forecast_users', '--column', 'email'], { env });
      expect(s.code).toBe(0);
      expect(s.stdout).toMatch(/^UPDATE /m);
      expectKeyAbsent(s.stdout + s.stderr, `${dialect} CLI SQL`);
    }
    const masked = await runCli(['warehouse', 'session-keys', '--dialect', 'snowflake', '--key', 'env:CG_KEY'], { env });
    expect(masked.code).toBe(0);
    expect(masked.stdout).toMatch(/^CLARIGUARD_IPAD=\S+\nCLARIGUARD_OPAD=\S+\n$/);
    expectKeyAbsent(masked.stdout + masked.stderr, 'masked session keys');
    const revealed = await runCli(['warehouse', 'session-keys', '--dialect', 'bigquery', '--key', 'env:CG_KEY', '--reveal'], { env });
    expect(revealed.stdout).toBe(`clariguard_ipad=${pads.ipad}\nclariguard_opad=${pads.opad}\n`);
    expectNoLeak(revealed.stdout + revealed.stderr, keyText);
    const bad = await runCli(['warehouse', 'sql', '--dialect', 'oracle'], { env });
    expect(bad.code).toBe(2);
    expectKeyAbsent(readFileSync(server.logFile), 'the server log');
  });
});

describe('PGlite', () => {
  test('10,000 random values pseudonymised in PGlite equal createPseudonymizer()', async () => {
    const vals = values(10_000, 4242);
    const target = `pglite:${join(tmp.dir, 'pglite')}`;
    const setup = await openWarehouse(await resolveWarehouseTarget(target));
    try {
      await fill(setup, 'people', vals);
    } finally {
      await setup.close();
    }
    const r = await pseudonymizeColumn({ target, table: 'people', column: 'email', kind: 'email', key });
    expect(r).toMatchObject({ updated: vals.length, method: 'pgcrypto' });
    const check = await openWarehouse(await resolveWarehouseTarget(target));
    try {
      const rows = (await check.query<{ id: number; email: string | null }>('SELECT id, email FROM people ORDER BY id')).rows;
      expect(rows[0].email).toBeNull();
      const wrong = rows.slice(1).filter((row) => row.email !== p.email(vals[row.id - 1]));
      expect(wrong).toEqual([]);
    } finally {
      await check.close();
    }
  }, 240_000);
});
