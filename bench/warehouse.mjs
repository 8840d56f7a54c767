// npm run bench:warehouse — loading 1,000,000 redacted forecast entries into a real PostgreSQL server and into
// PGlite with loadRecordsIntoWarehouse() (the sink behind `--out postgres://…` and `--out pglite:DIR`), against
// the floor: psql's \copy of the same rows, already redacted, from a CSV file into the same table.
//
//   BENCH_WAREHOUSE_ROWS=1000000 (default)   BENCH_WAREHOUSE_PGLITE=0 skips PGlite   BENCH_KEEP=1 keeps bench/.work/warehouse
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, createWriteStream, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPseudonymizer } from '../dist/redact/pseudonym.js';
import { copyColumns, tableSpec } from '../dist/warehouse/schema.js';
import { initWarehouse, loadRecordsIntoWarehouse } from '../dist/warehouse/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WORK = join(ROOT, 'bench', '.work', 'warehouse');
const ROWS = Number(process.env.BENCH_WAREHOUSE_ROWS ?? 1_000_000);
const PGLITE = process.env.BENCH_WAREHOUSE_PGLITE !== '0';
const isRoot = process.getuid?.() === 0;

// ---- a throwaway server, as test/helpers/postgres.ts starts one ------------------------------------------
function pgBin() {
  const base = '/usr/lib/postgresql';
  const v = existsSync(base) ? readdirSync(base).filter((d) => existsSync(join(base, d, 'bin', 'initdb'))).sort((a, b) => b - a) : [];
  if (!v.length) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  return join(base, v[0], 'bin');
}
function asPostgres(cmd, args) {
  const [c, a] = isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const r = spawnSync(c, a, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
}
const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
async function startServer() {
  const bin = pgBin();
  const root = join(WORK, 'pg');
  mkdirSync(root, { recursive: true });
  if (isRoot) {
    chmodSync(root, 0o755);
    chownSync(root, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  }
  const data = join(root, 'data');
  asPostgres(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '-N']);
  const port = await freePort();
  asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-l', join(root, 'server.log'), '-w', '-t', '60', '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=4GB`, 'start']);
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, psql: join(bin, 'psql'), stop: () => asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']) };
}

// ---- data: redacted forecast entries (pseudonymised updatedBy), deterministic -------------------------------
const p = createPseudonymizer(Buffer.alloc(32, 7));
const people = Array.from({ length: 2000 }, (_, i) => p.name(`Rep Number ${i}`));
const FIELDS = ['commit', 'best_case', 'pipeline', 'quota'];
function entry(i) {
  return {
    userId: `005U${String(i % 2000).padStart(8, '0')}`,
    fieldId: FIELDS[i % 4],
    timePeriodId: '2026_Q3',
    timeFrameId: `2026_Q3_W${(i % 13) + 1}`,
    forecastValue: ((i * 7919) % 1_000_000) + 0.25,
    quotaValue: 1_200_000,
    currency: { code: 'USD', symbol: '$' },
    isUpdated: i % 3 === 0,
    updatedBy: people[(i * 31) % 2000],
    updatedOn: '2026-07-03T10:00:00Z',
  };
}
async function* records(n) {
  for (let i = 0; i < n; i++) yield { section: 'entries', record: entry(i) };
}
/** The same rows as the CSV COPY reads: what a plain `\copy` of an already-redacted file loads. */
async function writeCsv(file, n, jobId) {
  const out = createWriteStream(file);
  let buf = '';
  for (let i = 0; i < n; i++) {
    const e = entry(i);
    buf += `${jobId},${e.userId},${e.fieldId},${e.timePeriodId},${e.timeFrameId},${e.forecastValue},${e.quotaValue},${e.currency.code},${e.currency.symbol},${e.isUpdated ? 't' : 'f'},${e.updatedBy},${e.updatedOn},\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise((r) => out.once('drain', r));
      buf = '';
    }
  }
  out.end(buf);
  await new Promise((r, j) => out.on('finish', r).on('error', j));
}

const rate = (n, ms) => `${Math.round(n / (ms / 1000)).toLocaleString('en-US')} rows/s`;
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
const now = () => Number(process.hrtime.bigint()) / 1e6;

rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });
console.log(`bench:warehouse: ${ROWS.toLocaleString('en-US')} forecast entries\n`);
const server = await startServer();
try {
  await initWarehouse({ target: server.url });
  const csv = join(WORK, 'entries.csv');
  await writeCsv(csv, ROWS, 'floor');
  console.log(`redacted CSV for the floor: ${(statSync(csv).size / 1e6).toFixed(0)} MB`);
  const cols = copyColumns(tableSpec('forecast_entries')).join(', ');
  const truncate = () => execFileSync(server.psql, [server.url, '-qc', 'TRUNCATE clari.forecast_entries']);
  const floor = () => {
    truncate();
    const t = now();
    execFileSync(server.psql, [server.url, '-qc', `\\copy clari.forecast_entries (${cols}) FROM '${csv}' WITH (FORMAT csv)`]);
    return now() - t;
  };
  const ours = async (jobId) => {
    truncate();
    const t = now();
    const r = await loadRecordsIntoWarehouse({ target: server.url, records: records(ROWS), kind: 'forecast', jobId });
    if (r.rowCounts.forecast_entries !== ROWS) throw new Error(`loaded ${JSON.stringify(r.rowCounts)}`);
    return now() - t;
  };
  // Best of two each, interleaved, so a noisy neighbour hurts both sides alike.
  const f1 = floor();
  const o1 = await ours('bench1');
  const f2 = floor();
  const o2 = await ours('bench2');
  const floorMs = Math.min(f1, f2);
  const oursMs = Math.min(o1, o2);
  console.log(`floor   psql \\copy of the redacted CSV     ${fmt(floorMs).padStart(9)}  ${rate(ROWS, floorMs)}`);
  console.log(`server  loadRecordsIntoWarehouse (COPY)   ${fmt(oursMs).padStart(9)}  ${rate(ROWS, oursMs)}  ${(oursMs / floorMs).toFixed(2)}x the floor (target <= 2x)`);
} finally {
  server.stop();
}

if (PGLITE) {
  const dir = join(WORK, 'pglite');
  const t0 = now();
  // Opening creates the cluster (initdb) on first use: timed separately from the load.
  await loadRecordsIntoWarehouse({ target: `pglite:${dir}`, records: records(1), kind: 'forecast', jobId: 'warmup' });
  const openMs = now() - t0;
  const t = now();
  const r = await loadRecordsIntoWarehouse({ target: `pglite:${dir}`, records: records(ROWS), kind: 'forecast', jobId: 'bench' });
  const ms = now() - t;
  if (r.rowCounts.forecast_entries !== ROWS) throw new Error(`PGlite loaded ${JSON.stringify(r.rowCounts)}`);
  console.log(`pglite  loadRecordsIntoWarehouse (COPY /dev/blob)  ${fmt(ms).padStart(9)}  ${rate(ROWS, ms)}  (first open + initdb ${fmt(openMs)})`);
}
if (process.env.BENCH_KEEP !== '1') rmSync(WORK, { recursive: true, force: true });
