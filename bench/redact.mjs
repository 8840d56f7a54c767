// npm run bench:redact — throughput and peak memory of `clariguard redact` against the common advice
// (bare truncated SHA-256 over json.load / jq), all measured in the same run on the same files.
//
//   BENCH_ENTRIES=1000000 BENCH_CSV_ROWS=2000000 (defaults); BENCH_KEEP=1 keeps bench/.work/ files.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WORK = join(ROOT, 'bench', '.work');
const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 1_000_000);
const CSV_ROWS = Number(process.env.BENCH_CSV_ROWS ?? 2_000_000);
mkdirSync(WORK, { recursive: true });

const FIRST = ['Ana', 'Bob', 'Chen', 'Dana', 'Eli', 'Fatima', 'Gus', 'Hana', 'Ivan', 'Jo', 'Kemal', 'Lea', 'Mo', 'Nia', 'Omar', 'Pia', 'Quinn', 'Raj', 'Sara', 'Tom'];
const LAST = ['Silva', 'Jones', 'Li', 'Okafor', 'Novak', 'Haddad', 'Berg', 'Sato', 'Petrov', 'Moreau', 'Yilmaz', 'Costa', 'Khan', 'Adeyemi', 'Schmidt', 'Rossi', 'Park', 'Nair', 'Cohen', 'Walsh'];
// 2,000 people: 20 x 20 names x 5 teams.
const people = [];
for (let t = 0; t < 5; t++) for (const f of FIRST) for (const l of LAST) people.push({ name: `${f} ${l}${t ? ` ${t}` : ''}`.trim(), email: `${f}.${l}${t || ''}@acme-corp.com`.toLowerCase() });

let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);

async function writeLines(file, total, header, line, footer) {
  // Written under a temp name and renamed, so an interrupted generation is never mistaken for a finished file.
  const tmp = `${file}.part`;
  const ws = createWriteStream(tmp, { highWaterMark: 1 << 22 });
  if (header) ws.write(header);
  let buf = '';
  for (let i = 0; i < total; i++) {
    buf += line(i, i === total - 1);
    if (buf.length > 1 << 20) {
      if (!ws.write(buf)) await once(ws, 'drain');
      buf = '';
    }
  }
  ws.write(buf + (footer ?? ''));
  ws.end();
  await once(ws, 'finish');
  renameSync(tmp, file);
}

async function generate() {
  const jsonFile = join(WORK, `flat-${ENTRIES}.json`);
  const csvFile = join(WORK, `export-${CSV_ROWS}.csv`);
  if (!existsSync(jsonFile)) {
    process.stderr.write(`generating ${jsonFile} ...\n`);
    await writeLines(jsonFile, ENTRIES, '[\n', (i, last) => {
      const p = people[i % people.length];
      const q = people[(i * 7 + 3) % people.length];
      const amt = () => Math.round(rnd() * 1e8) / 100;
      const e = {
        ownerName: p.name,
        ownerEmail: p.email,
        forecastAmount: amt(),
        quotaAmount: amt(),
        crmTotal: amt(),
        crmClosed: amt(),
        adjustmentAmount: amt(),
        timePeriod: `2026_Q${(i % 4) + 1}`,
      };
      // One entry in ten carries a free-text note mentioning a colleague, an address or a phone number.
      if (i % 10 === 0) e.notes = i % 20 === 0 ? `Discussed with ${q.name}; call +1 415 555 ${String(1000 + (i % 9000)).padStart(4, '0')}` : `cc ${q.email} on the commit`;
      return `${JSON.stringify(e, null, 2).replace(/^/gm, '  ')}${last ? '\n' : ',\n'}`;
    }, ']\n');
  }
  if (!existsSync(csvFile)) {
    process.stderr.write(`generating ${csvFile} ...\n`);
    await writeLines(csvFile, CSV_ROWS, 'User,Email,CRM User ID,Role,Parent Role,Timeframe,Field,Week,Start Day,End Day,Data Type,Data Value\r\n', (i) => {
      const p = people[i % people.length];
      const v = i % 2 ? '"$' + (Math.round(rnd() * 1e9) / 100).toLocaleString('en-US', { minimumFractionDigits: 2 }) + '"' : 'No';
      return `${p.name},${p.email},0051100000${String(i % people.length).padStart(4, '0')}AAI,Sales Rep - Team ${i % 5},VP Sales,July FY 2026,Monthly Commit,${i % 13},06/30/2026,06/30/2026,${i % 2 ? 'Forecast Value' : 'Forecast Updated'},${v}\r\n`;
    });
  }
  return { jsonFile, csvFile };
}

/** Runs a command under /usr/bin/time: wall seconds, CPU seconds (user+sys) and peak RSS (max resident). */
function measure(label, cmd, args, env = {}) {
  return new Promise((resolve, reject) => {
    const timeFile = join(WORK, 'time.txt');
    const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${label} exited ${code}: ${err.slice(-500)}`));
      const [wall, user, sys, maxKb] = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
      resolve({ label, secs: wall, cpu: user + sys, peakMb: maxKb / 1024, stderr: err });
    });
  });
}

const PY_BASELINE = `
import json, hashlib, sys
with open(sys.argv[1]) as f:
    data = json.load(f)
for e in data:
    e['ownerEmail'] = hashlib.sha256(e['ownerEmail'].encode()).hexdigest()[:12]
    e['ownerName'] = hashlib.sha256(e['ownerName'].encode()).hexdigest()[:12]
with open(sys.argv[2], 'w') as f:
    json.dump(data, f)
`;
const PY_CSV_BASELINE = `
import csv, hashlib, sys
with open(sys.argv[1], newline='') as f, open(sys.argv[2], 'w', newline='') as o:
    r = csv.DictReader(f)
    w = csv.DictWriter(o, fieldnames=r.fieldnames)
    w.writeheader()
    for row in r:
        row['Email'] = hashlib.sha256(row['Email'].encode()).hexdigest()[:12]
        row['User'] = hashlib.sha256(row['User'].encode()).hexdigest()[:12]
        w.writerow(row)
`;
// jq 1.6 has no hash function: this does the same two field rewrites with a cheap stand-in, so it is a
// lower bound on what jq would need.
const JQ_PROGRAM = 'map(.ownerEmail |= ("h" + (length|tostring)) | .ownerName |= ("h" + (length|tostring)))';

async function main() {
  const { jsonFile, csvFile } = await generate();
  const pyFile = join(WORK, 'baseline.py');
  const pyCsvFile = join(WORK, 'baseline_csv.py');
  writeFileSync(pyFile, PY_BASELINE);
  writeFileSync(pyCsvFile, PY_CSV_BASELINE);
  const home = join(WORK, 'home');
  const env = { CLARIGUARD_HOME: home };
  const bin = join(ROOT, 'bin', 'clariguard.js');
  const out = (n) => join(WORK, n);
  const rows = [];
  const jsonMb = statSync(jsonFile).size / 1e6;
  const csvMb = statSync(csvFile).size / 1e6;

  // Warm the key (created on first use) so it is not timed.
  await measure('key', process.execPath, [bin, 'redact', '--preset', 'flat-entries', '--in', join(ROOT, 'package.json'), '--format', 'json', '--out', out('warm.json')], env).catch(() => undefined);

  const run = async (label, mb, cmd, args, e) => {
    process.stderr.write(`running ${label} ...\n`);
    const r = await measure(label, cmd, args, e);
    rows.push({ ...r, mb });
    return r;
  };
  const py = await run('python json.load + bare sha256[:12] (common advice)', jsonMb, 'python3', [pyFile, jsonFile, out('py.json')]);
  await run('jq (same two fields, no hash)', jsonMb, 'jq', ['-c', JQ_PROGRAM, jsonFile], {});
  const cores = availableParallelism();
  // The default: one thread per CPU, except JSON on fewer than 4 CPUs (one thread: see docs/redaction.md).
  const jsonThreads = cores >= 4 ? `${Math.min(cores, 8)} threads` : 'one thread';
  await run(`clariguard redact (default: flat-entries preset, free text, roster pre-pass, ${jsonThreads} on ${cores} CPUs)`, jsonMb, process.execPath, [bin, 'redact', '--in', jsonFile, '--out', out('cg.json'), '--report', out('cg-report.json')], env);
  await run('clariguard redact, one thread (CLARIGUARD_REDACT_THREADS=0)', jsonMb, process.execPath, [bin, 'redact', '--in', jsonFile, '--out', out('cg0.json')], { ...env, CLARIGUARD_REDACT_THREADS: '0' });
  await run(`clariguard redact, file cut in ${cores} ranges (CLARIGUARD_REDACT_THREADS=${cores})`, jsonMb, process.execPath, [bin, 'redact', '--in', jsonFile, '--out', out('cg2.json')], { ...env, CLARIGUARD_REDACT_THREADS: String(cores) });
  await run('clariguard redact --single-pass (one thread, no pre-pass)', jsonMb, process.execPath, [bin, 'redact', '--single-pass', '--in', jsonFile, '--out', out('cg1.json')], env);
  const pyCsv = await run('python csv + bare sha256[:12]', csvMb, 'python3', [pyCsvFile, csvFile, out('py.csv')]);
  await run(`clariguard redact, forecast-csv preset (csv, ${cores} threads)`, csvMb, process.execPath, [bin, 'redact', '--in', csvFile, '--out', out('cg.csv')], env);
  await run('clariguard redact, forecast-csv preset (csv, one thread)', csvMb, process.execPath, [bin, 'redact', '--in', csvFile, '--out', out('cg0.csv')], { ...env, CLARIGUARD_REDACT_THREADS: '0' });
  // The parallel and one-thread outputs must be the same bytes.
  for (const [a, b] of [['cg.json', 'cg0.json'], ['cg2.json', 'cg0.json'], ['cg.csv', 'cg0.csv']]) {
    if (!readFileSync(out(a)).equals(readFileSync(out(b)))) throw new Error(`${a} and ${b} differ: parallel redaction must give the one-thread output`);
  }

  const report = JSON.parse(readFileSync(out('cg-report.json'), 'utf8'));
  console.log(`\nclariguard redact benchmark: ${ENTRIES.toLocaleString()} flat entries (${jsonMb.toFixed(0)} MB JSON), ${CSV_ROWS.toLocaleString()} CSV rows (${csvMb.toFixed(0)} MB)\n`);
  console.log('| run | MB | wall s | CPU s | MB/s (wall) | MB/CPU-s | peak RSS MB | vs python (wall) | vs python (CPU) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  const pyRow = rows.find((r) => r.label.startsWith('python json'));
  const pyCsvRow = rows.find((r) => r.label.startsWith('python csv'));
  for (const r of rows) {
    const base = r.label.includes('csv') ? pyCsvRow : pyRow;
    const ratio = r.mb / r.secs / (base.mb / base.secs);
    const ratioCpu = r.mb / r.cpu / (base.mb / base.cpu);
    console.log(`| ${r.label} | ${r.mb.toFixed(0)} | ${r.secs.toFixed(1)} | ${r.cpu.toFixed(1)} | ${(r.mb / r.secs).toFixed(1)} | ${(r.mb / r.cpu).toFixed(1)} | ${r.peakMb.toFixed(0)} | ${ratio.toFixed(2)}x | ${ratioCpu.toFixed(2)}x |`);
  }
  console.log(`\nload average during the run: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} (CPU seconds are the fairer comparison on a shared machine)`);
  console.log(`\nflat JSON report: rows ${report.rows}, detectors ${JSON.stringify(report.detectors)}, roster ${report.roster.size}, key ${report.keyId}`);
  if (!process.env.BENCH_KEEP) for (const f of ['py.json', 'cg.json', 'cg0.json', 'cg1.json', 'cg2.json', 'py.csv', 'cg.csv', 'cg0.csv', 'warm.json']) rmSync(out(f), { force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
