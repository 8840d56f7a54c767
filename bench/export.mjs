// npm run bench:export — `clariguard export forecast` end to end against the sandbox: job, streamed download,
// period/truncation verification, redaction, atomic write. Prints rows/s and peak RSS for an export and for
// one ten times larger, and the same for the common approach measured in the same run (download the whole
// body, JSON.parse, write), so the ratios show what streaming buys.
//
//   BENCH_EXPORT_SIZES=100000,1000000 (entries; default)   BENCH_EXPORT_FORMATS=json,csv (default json,csv)
//   BENCH_EXPORT_NAIVE=0 skips the baseline               BENCH_KEEP=1 keeps bench/.work/export files
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSandbox } from '../dist/sandbox/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WORK = join(ROOT, 'bench', '.work', 'export');
const SIZES = (process.env.BENCH_EXPORT_SIZES ?? '100000,1000000').split(',').map(Number);
const FORMATS = (process.env.BENCH_EXPORT_FORMATS ?? 'json,csv').split(',');
const NAIVE = process.env.BENCH_EXPORT_NAIVE !== '0';
const LIMIT_MB = 250;
// 13 weekly frames (a finished quarter with --include-historical) x 4 cells (3 call fields + quota) per user.
const CELLS_PER_USER = 13 * 4;
const NOW = new Date('2026-11-15T12:00:00Z');

rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });
const token = `bench_${randomBytes(18).toString('base64url')}`;
const key = randomBytes(32).toString('base64');

/** Runs a child and samples its peak RSS (VmHWM) from /proc until it exits. */
function measure(args, env) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { cwd: WORK, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let peakKb = 0;
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const sample = () => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {
        // exited between samples
      }
    };
    const timer = setInterval(sample, 50);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`exit ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      else resolve({ ms, peakMb: peakKb / 1024, out, err });
    });
  });
}

// The common approach from public extractors: poll, then `resp.json()` and dump. Same sandbox, same job shape.
const NAIVE_SCRIPT = `
const [base, tok, out] = process.argv.slice(1);
const h = { apikey: tok, 'content-type': 'application/json' };
const r = await fetch(base + '/export/forecast/net_arr', { method: 'POST', headers: h, body: JSON.stringify({ timePeriod: '2026_Q3', typesToExport: ['forecast', 'quota'], includeHistorical: true }) });
const { jobId } = await r.json();
for (;;) { const s = await (await fetch(base + '/export/jobs/' + jobId, { headers: h })).json(); if (s.status === 'DONE') break; await new Promise((x) => setTimeout(x, 50)); }
const doc = await (await fetch(base + '/export/jobs/' + jobId + '/results', { headers: h })).json();
(await import('node:fs')).writeFileSync(out, JSON.stringify(doc));
process.stdout.write(String(doc.entries.length));
`;

const fmtMb = (x) => `${x.toFixed(0)} MB`;
const fmtRate = (x) => `${Math.round(x).toLocaleString('en-US')} rows/s`;
const results = [];

for (const size of SIZES) {
  const users = Math.ceil(size / CELLS_PER_USER);
  const entries = users * CELLS_PER_USER;
  const sb = await startSandbox({ token, users, slowJobs: 0, now: NOW, seed: 3 });
  try {
    for (const format of FORMATS) {
      const out = join(WORK, `export-${entries}.${format}`);
      const r = await measure(
        [join(ROOT, 'bin', 'clariguard.js'), 'export', 'forecast', 'net_arr', '--period', '2026_Q3', '--types', 'forecast,quota', '--include-historical',
          '--token', 'env:BENCH_CLARI_TOKEN', '--key', 'env:BENCH_KEY', '--base-url', sb.url, '--out', out, '--format', format, '--poll-interval', '50', '--json'],
        { BENCH_CLARI_TOKEN: token, BENCH_KEY: key, CLARIGUARD_HOME: join(WORK, 'home'), CI: '1' },
      );
      const summary = JSON.parse(r.out);
      const bytes = statSync(out).size;
      if (readFileSync(out).includes(token)) throw new Error('token found in the export file');
      results.push({ what: `clariguard export (${format}, redacted)`, format, entries, rows: summary.rows, ms: r.ms, peakMb: r.peakMb, bytes });
      process.stderr.write(`  ${format} ${entries.toLocaleString('en-US')} entries: ${(r.ms / 1000).toFixed(1)} s, ${fmtRate((entries * 1000) / r.ms)}, peak RSS ${fmtMb(r.peakMb)}, ${(bytes / 1e6).toFixed(0)} MB written\n`);
      if (!process.env.BENCH_KEEP) rmSync(out, { force: true });
    }
    if (NAIVE) {
      const out = join(WORK, `naive-${entries}.json`);
      const r = await measure(['--input-type=module', '-e', NAIVE_SCRIPT, sb.url, token, out], {});
      results.push({ what: 'naive: resp.json() + write (unredacted)', format: 'json', entries, rows: Number(r.out), ms: r.ms, peakMb: r.peakMb, bytes: statSync(out).size });
      process.stderr.write(`  naive ${entries.toLocaleString('en-US')} entries: ${(r.ms / 1000).toFixed(1)} s, peak RSS ${fmtMb(r.peakMb)}\n`);
      rmSync(out, { force: true });
    }
  } finally {
    await sb.close();
  }
}

const small = Math.min(...results.map((r) => r.entries));
const large = Math.max(...results.map((r) => r.entries));
console.log(`\nclariguard export bench: sandbox forecast export, ${FORMATS.join('/')} redacted end to end (job, stream, verify, redact, atomic write)`);
console.log(`${'what'.padEnd(38)} ${'entries'.padStart(10)} ${'seconds'.padStart(8)} ${'rows/s'.padStart(10)} ${'peak RSS'.padStart(9)}`);
for (const r of results) {
  console.log(`${r.what.padEnd(38)} ${r.entries.toLocaleString('en-US').padStart(10)} ${(r.ms / 1000).toFixed(1).padStart(8)} ${Math.round((r.entries * 1000) / r.ms).toLocaleString('en-US').padStart(10)} ${fmtMb(r.peakMb).padStart(9)}`);
}
let ok = true;
if (small !== large) {
  console.log(`\npeak RSS when the export grows ${Math.round(large / small)}x (${small.toLocaleString('en-US')} -> ${large.toLocaleString('en-US')} entries):`);
  const whats = [...new Set(results.map((r) => r.what))];
  for (const w of whats) {
    const a = results.find((r) => r.what === w && r.entries === small);
    const b = results.find((r) => r.what === w && r.entries === large);
    if (!a || !b) continue;
    const flat = b.peakMb < LIMIT_MB;
    if (w.startsWith('clariguard') && !flat) ok = false;
    console.log(`  ${w.padEnd(38)} ${fmtMb(a.peakMb)} -> ${fmtMb(b.peakMb)} (x${(b.peakMb / a.peakMb).toFixed(2)})${w.startsWith('clariguard') ? (flat ? `  ok: under ${LIMIT_MB} MB` : `  FAIL: over ${LIMIT_MB} MB`) : ''}`);
  }
  const sJ = results.find((r) => r.what.startsWith('clariguard') && r.format === 'json' && r.entries === large);
  const nJ = results.find((r) => r.what.startsWith('naive') && r.entries === large);
  if (sJ && nJ) console.log(`  at ${large.toLocaleString('en-US')} entries clariguard uses ${(sJ.peakMb / nJ.peakMb).toFixed(2)}x the memory of the naive download and takes ${(sJ.ms / nJ.ms).toFixed(2)}x its time (while redacting)`);
}
if (!process.env.BENCH_KEEP) rmSync(WORK, { recursive: true, force: true });
process.exitCode = ok ? 0 : 1;
