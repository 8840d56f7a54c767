// npm run bench:scan — builds a repository with a few thousand commits under bench/.work/scan and prints,
// in one run: the `git log -p --all` floor, `clariguard scan --history`, `git secrets --scan-history`,
// the work-tree scan against `git secrets --scan`, and precision/recall on the generated corpus.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCorpus, rng, score } from './scan-corpus.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORK = join(ROOT, 'bench', '.work', 'scan');
const REPO = join(WORK, 'repo');
const BIN = join(ROOT, 'bin', 'clariguard.js');
const COMMITS = Number(process.env.BENCH_SCAN_COMMITS ?? 3000);
const FILES = Number(process.env.BENCH_SCAN_FILES ?? 1500);
const RUNS = Number(process.env.BENCH_SCAN_RUNS ?? 3);
const GS_TIMEOUT_S = Number(process.env.BENCH_SCAN_GS_TIMEOUT ?? 180);
const { scan } = await import(join(ROOT, 'dist', 'scan', 'index.js'));
const { diffCommand } = await import(join(ROOT, 'dist', 'scan', 'history.js'));
const { SecretValue } = await import(join(ROOT, 'dist', 'secrets', 'value.js'));
const { grepCommand, prefilterPatterns } = await import(join(ROOT, 'dist', 'scan', 'prefilter.js'));
const { DEFAULT_RULES, knownTokenRule } = await import(join(ROOT, 'dist', 'scan', 'rules', 'index.js'));

const gitEnv = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };

// ---------------------------------------------------------------- the repository
const r = rng(42);
const pickOf = (a) => a[Math.floor(r() * a.length)];
const WORDS = ['forecast', 'quota', 'export', 'job', 'user', 'scope', 'period', 'amount', 'currency', 'entry', 'field', 'result', 'status', 'retry', 'limit', 'config', 'client', 'request', 'response', 'token', 'key', 'cache', 'value', 'items', 'rows'];
const ident = () => pickOf(WORDS) + pickOf(WORDS).replace(/^./, (c) => c.toUpperCase());
const LINE_SHAPES = [
  () => `  const ${ident()} = await ${ident()}(${ident()}, { ${ident()}: ${Math.floor(r() * 1000)} });`,
  () => `  if (!${ident()}) throw new Error('missing ${pickOf(WORDS)} for ${pickOf(WORDS)}');`,
  () => `  // ${pickOf(WORDS)} ${pickOf(WORDS)} ${pickOf(WORDS)}: keep the ${pickOf(WORDS)} stable across retries`,
  () => `  headers: { apikey: config.${ident()} },`,
  () => `  ${ident()}.push({ id: '${r().toString(36).slice(2, 10)}', ${ident()}: ${ident()}.${ident()} });`,
  () => `  const token = process.env.CLARI_API_KEY; // ${pickOf(WORDS)}`,
  () => `  return ${ident()}.map((x) => x.${ident()} * ${(r() * 10).toFixed(2)});`,
  () => `  logger.info({ ${ident()}, ${ident()} }, '${pickOf(WORDS)} ${pickOf(WORDS)} done');`,
  () => `  url: \`https://api.clari.com/v4/export/jobs/\${jobId}/results\`,`,
];
// The last three shapes name Clari (header, env lookup, results URL); a real integration has them in a few
// modules, not on every other line, so they are drawn for about one line in 40.
const COMMON = LINE_SHAPES.slice(0, 3).concat(LINE_SHAPES.slice(4, 5), LINE_SHAPES.slice(6, 8));
const CLARI_LINES = [LINE_SHAPES[3], LINE_SHAPES[5], LINE_SHAPES[8]];
const codeLines = (n) => Array.from({ length: n }, () => (r() < 0.025 ? pickOf(CLARI_LINES) : pickOf(COMMON))()).join('\n');

function buildRepo() {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(REPO, { recursive: true });
  execFileSync('git', ['init', '-q', '-b', 'main', REPO], { env: gitEnv });
  const { cases, known } = buildCorpus(5, 3);
  const files = new Map(); // path -> content
  const chunks = [];
  let t = 1735689600; // 2025-01-01
  let mark = 0;
  let lastMain = 0;
  const data = (s) => `data ${Buffer.byteLength(s)}\n${s}\n`;
  const corpusAt = new Map(); // commit index -> cases to add
  const deleteAt = new Map();
  // Corpus files go on main only (side-branch commits are every 500th), so the work tree's share is known.
  const onMain = (n) => (n % 500 === 499 ? n + 1 : n);
  cases.forEach((c, i) => {
    const at = onMain(10 + Math.floor((i / cases.length) * (COMMITS - 200)));
    corpusAt.set(at, [...(corpusAt.get(at) ?? []), c]);
    // Every fourth case is deleted later: history still has it, the work tree does not.
    if (i % 4 === 0) deleteAt.set(onMain(at + 50), [...(deleteAt.get(onMain(at + 50)) ?? []), c]);
  });
  const inTree = new Set(cases.map((c) => c.file));
  for (let i = 0; i < COMMITS; i++) {
    t += 600 + Math.floor(r() * 3600);
    const ops = [];
    if (i === 0) {
      for (let f = 0; f < FILES; f++) {
        const p = `src/${pickOf(WORDS)}/${pickOf(WORDS)}-${f}.${pickOf(['ts', 'js', 'py', 'md', 'yaml'])}`;
        files.set(p, `${codeLines(40 + Math.floor(r() * 80))}\n`);
        ops.push(`M 100644 inline ${p}\n${data(files.get(p))}`);
      }
    } else {
      const keys = [...files.keys()];
      for (let k = 0, n = 1 + Math.floor(r() * 3); k < n; k++) {
        const p = pickOf(keys);
        const lines = files.get(p).split('\n');
        const at = Math.floor(r() * lines.length);
        lines.splice(at, Math.floor(r() * 3), ...codeLines(3 + Math.floor(r() * 15)).split('\n'));
        files.set(p, lines.join('\n'));
        ops.push(`M 100644 inline ${p}\n${data(files.get(p))}`);
      }
    }
    for (const c of corpusAt.get(i) ?? []) ops.push(`M 100644 inline corpus/${c.file}\n${data(c.text)}`);
    for (const c of deleteAt.get(i) ?? []) {
      ops.push(`D corpus/${c.file}\n`);
      inTree.delete(c.file);
    }
    mark++;
    // Every 500th commit goes on its own side branch off main (so `--all` matters); main continues past it.
    const side = i % 500 === 499;
    const branch = side ? `refs/heads/feature-${i}` : 'refs/heads/main';
    const from = lastMain ? `from :${lastMain}\n` : '';
    if (!side) lastMain = mark;
    chunks.push(`commit ${branch}\nmark :${mark}\nauthor Dev ${i % 7} <dev${i % 7}@example.com> ${t} +0000\ncommitter Dev <dev@example.com> ${t} +0000\n${data(`change ${i}`)}${from}${ops.join('')}\n`);
  }
  const stream = chunks.join('');
  execFileSync('git', ['fast-import', '--quiet'], { cwd: REPO, input: stream, env: gitEnv, maxBuffer: 1 << 30 });
  execFileSync('git', ['checkout', '-q', '-f', 'main'], { cwd: REPO, env: gitEnv });
  writeFileSync(join(WORK, 'corpus.json'), JSON.stringify({ known, present: [...inTree] }));
  return { cases, known, present: inTree };
}

// ---------------------------------------------------------------- timing helpers
function timeCmd(cmd, args, opts = {}) {
  return new Promise((resolveP, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO, env: opts.env ?? gitEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: Boolean(opts.timeoutMs) });
    const out = [];
    let bytes = 0;
    child.stdout.on('data', (c) => {
      bytes += c.length;
      if (opts.keep) out.push(c);
    });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    let timedOut = false;
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          // git-secrets is a shell script: stop its whole process group (it runs detached below).
          try {
            process.kill(-child.pid, 'SIGTERM');
          } catch {
            child.kill('SIGTERM');
          }
        }, opts.timeoutMs)
      : undefined;
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveP({ ms: performance.now() - t0, code, bytes, timedOut, stdout: Buffer.concat(out).toString(), stderr: err });
    });
  });
}
async function best(n, f) {
  let bestRun;
  for (let i = 0; i < n; i++) {
    const x = await f();
    if (!bestRun || x.ms < bestRun.ms) bestRun = x;
  }
  return bestRun;
}
/** CPU seconds (user + system) of a command and its children, best of `n` (POSIX `times` in a wrapping sh). */
function cpuOf(n, cmd, args, env = gitEnv) {
  let bestS = Infinity;
  for (let i = 0; i < n; i++) {
    const r = spawnSync('sh', ['-c', '"$@" >/dev/null 2>&1; times', 'sh', cmd, ...args], { cwd: REPO, env, encoding: 'utf8' });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    const secs = [...line.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
    bestS = Math.min(bestS, secs);
  }
  return bestS * 1000;
}
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
const pct = (x) => `${(x * 100).toFixed(1)}%`;

// ---------------------------------------------------------------- git-secrets
function ensureGitSecrets() {
  if (spawnSync('git', ['secrets', '--list'], { cwd: REPO, env: gitEnv }).status === 0 || existsSync('/usr/bin/git-secrets')) return true;
  const root = process.getuid?.() === 0;
  if (!root) {
    console.log('git-secrets is not installed and this is not root: install it with `apt-get install -y git-secrets` to compare.');
    return false;
  }
  console.log('installing git-secrets (apt-get install -y git-secrets) ...');
  let res = spawnSync('apt-get', ['install', '-y', '-q', 'git-secrets'], { stdio: 'ignore' });
  if (res.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { stdio: 'ignore' });
    res = spawnSync('apt-get', ['install', '-y', '-q', 'git-secrets'], { stdio: 'ignore' });
  }
  return res.status === 0;
}
function configureGitSecrets() {
  const gs = (...a) => execFileSync('git', ['secrets', ...a], { cwd: REPO, env: gitEnv, stdio: 'ignore' });
  gs('--register-aws');
  // The Clari patterns a team would add by hand: a Clari-named variable or the apikey/partnerkey header with a long value.
  gs('--add', '([Cc]lari|CLARI)[A-Za-z_.-]*([Kk]ey|KEY|[Tt]oken|TOKEN)["\']?[[:space:]]*[:=][[:space:]]*["\']?[A-Za-z0-9_+/=.-]{16,}');
  gs('--add', '(apikey|partnerkey|X-Api-Key|X-Api-Password)["\']?[[:space:]]*[:=][[:space:]]*["\']?[A-Za-z0-9_+/=.-]{16,}');
  gs('--add', 'X-Amz-Signature=[0-9a-f]{64}');
}
/** git-secrets prints `file:line:text` (or `rev:file:line:text` for history); scored per line like ours. */
function parseGitSecrets(out, history) {
  const findings = [];
  for (const line of out.split('\n')) {
    const parts = line.split(':');
    if (parts.length < 3) continue;
    const [file, ln] = history ? [parts[1], parts[2]] : [parts[0], parts[1]];
    if (!/^\d+$/.test(ln ?? '')) continue;
    findings.push({ file, line: Number(ln) });
  }
  return findings;
}
/** Line-level precision/recall (git-secrets has no rule ids): a reported line holding a positive counts. */
function lineScore(cases, findings, prefix) {
  const truth = new Set();
  for (const c of cases) {
    const lines = c.text.split('\n');
    for (const s of c.secrets) {
      const idx = s.line ? s.line - 1 : lines.findIndex((l) => l.includes(s.value.slice(0, 4)) && (l.includes(s.value) || s.ruleId === 'clari-known-token'));
      truth.add(`${prefix}${c.file}:${idx + 1}`);
    }
  }
  const reported = new Set(findings.filter((f) => f.file.startsWith(prefix)).map((f) => `${f.file}:${f.line}`));
  let tp = 0;
  for (const k of reported) if (truth.has(k)) tp++;
  return { precision: reported.size ? tp / reported.size : 1, recall: truth.size ? tp / truth.size : 1, tp, fp: reported.size - tp, fn: truth.size - tp };
}

// ---------------------------------------------------------------- run
const { loadavg, cpus } = await import('node:os');
console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${cpus().length} CPUs)`);
console.log(`building a repository with ${COMMITS} commits and ${FILES} files under ${WORK} ...`);
const t0 = performance.now();
const { cases, known, present } = buildRepo();
const commits = execFileSync('git', ['rev-list', '--all', '--count'], { cwd: REPO, env: gitEnv }).toString().trim();
console.log(`built in ${fmt(performance.now() - t0)}: ${commits} commits, ${cases.length} corpus cases (${present.size} still in the work tree)\n`);

const knownEnv = { ...gitEnv, CLARI_BENCH_KNOWN: known };
const results = {};

// History.
console.log('timing history scans ...');
results.floorPlain = await best(RUNS, () => timeCmd('git', ['log', '-p', '--all']));
results.floorOurs = await best(RUNS, () => timeCmd('git', diffCommand({ mode: 'history', paths: [] })));
results.cliHistory = await best(RUNS, () => timeCmd(process.execPath, [BIN, 'scan', '--history', '--format', 'json', '--known', 'env:CLARI_BENCH_KNOWN'], { env: knownEnv, keep: true }));
let t = performance.now();
const libHistory = await scan({ cwd: REPO, history: true, known: [new SecretValue(known)] });
results.libHistoryMs = performance.now() - t;

// Work tree.
console.log('timing work-tree scans ...');
results.cliTree = await best(RUNS, () => timeCmd(process.execPath, [BIN, 'scan', '--format', 'json', '--known', 'env:CLARI_BENCH_KNOWN'], { env: knownEnv, keep: true }));
t = performance.now();
const libTree = await scan({ cwd: REPO, known: [new SecretValue(known)] });
results.libTreeMs = performance.now() - t;
// What the work-tree CLI cannot go below: Node's own start-up, and the git grep pre-filter it runs (the same
// command and patterns; from a file here instead of stdin).
results.nodeBoot = await best(RUNS, () => timeCmd(process.execPath, ['-e', '0']));
const patternFile = join(WORK, 'prefilter-patterns.txt');
writeFileSync(patternFile, `${prefilterPatterns([knownTokenRule([known]), ...DEFAULT_RULES]).join('\n')}\n`);
const grepArgs = grepCommand([REPO]).map((a) => (a === '-' ? patternFile : a));
const grepEnv = { ...gitEnv, LC_ALL: 'C' };
results.grepAlone = await best(RUNS, () => timeCmd('git', grepArgs, { env: grepEnv }));

// CPU time (user + system, the process and its children): what the run costs whatever else the machine does.
console.log('measuring CPU time ...');
const cliArgs = [BIN, 'scan', '--format', 'json', '--known', 'env:CLARI_BENCH_KNOWN'];
results.cpuFloor = cpuOf(RUNS, 'git', ['log', '-p', '--all']);
results.cpuCliHistory = cpuOf(RUNS, process.execPath, [...cliArgs, '--history'], knownEnv);
results.cpuCliTree = cpuOf(RUNS, process.execPath, cliArgs, knownEnv);
results.cpuNodeBoot = cpuOf(RUNS, process.execPath, ['-e', '0']);
results.cpuGrepAlone = cpuOf(RUNS, 'git', grepArgs, grepEnv);

// git-secrets.
const haveGs = ensureGitSecrets();
if (haveGs) {
  configureGitSecrets();
  results.cpuGsTree = cpuOf(RUNS, 'git', ['secrets', '--scan']);
  results.gsTree = await best(RUNS, () => timeCmd('git', ['secrets', '--scan'], { keep: true }));
  console.log(`timing git secrets --scan-history (stopped after ${GS_TIMEOUT_S} s; BENCH_SCAN_GS_TIMEOUT to change) ...`);
  results.gsHistory = await timeCmd('git', ['secrets', '--scan-history'], { keep: true, timeoutMs: GS_TIMEOUT_S * 1000 });
}

// Quality.
const treeCases = cases.filter((c) => present.has(c.file));
const qTree = score(treeCases, libTree.findings.filter((f) => f.file.startsWith('corpus/')), 'corpus/');
const qHist = score(cases, libHistory.findings.filter((f) => f.file.startsWith('corpus/')), 'corpus/');
const outsideCorpus = libTree.findings.filter((f) => !f.file.startsWith('corpus/')).length + libHistory.findings.filter((f) => !f.file.startsWith('corpus/')).length;

const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
console.log('history (best of %d)', RUNS);
console.log(`  git log -p --all (floor)                    ${fmt(results.floorPlain.ms)}  (${(results.floorPlain.bytes / 1e6).toFixed(1)} MB)`);
console.log(`  git log -p -U0 ... (the exact command scan spawns) ${fmt(results.floorOurs.ms)}  (${(results.floorOurs.bytes / 1e6).toFixed(1)} MB)`);
console.log(`  clariguard scan --history (CLI)             ${fmt(results.cliHistory.ms)}  = ${ratio(results.cliHistory.ms, results.floorPlain.ms)} the floor (target <= 1.5x)`);
console.log(`  scan({history}) in-process                  ${fmt(results.libHistoryMs)}  = ${ratio(results.libHistoryMs, results.floorPlain.ms)} the floor`);
if (haveGs) {
  const gsH = results.gsHistory;
  console.log(`  git secrets --scan-history                  ${gsH.timedOut ? '> ' : ''}${fmt(gsH.ms)}  = ${gsH.timedOut ? '> ' : ''}${ratio(gsH.ms, results.cliHistory.ms)} clariguard's time${gsH.timedOut ? ' (stopped, unfinished)' : ''}`);
}
console.log(`  CPU (user+system, with children): floor ${fmt(results.cpuFloor)}, clariguard --history CLI ${fmt(results.cpuCliHistory)} = ${ratio(results.cpuCliHistory, results.cpuFloor)} (git's share included)`);
console.log('work tree (best of %d)', RUNS);
console.log(`  clariguard scan (CLI)                       ${fmt(results.cliTree.ms)}  (${libTree.stats.files} files, ${(libTree.stats.bytes / 1e6).toFixed(1)} MB)`);
console.log(`  scan() in-process                           ${fmt(results.libTreeMs)}`);
if (haveGs) console.log(`  git secrets --scan                          ${fmt(results.gsTree.ms)}  -> clariguard CLI is ${ratio(results.gsTree.ms, results.cliTree.ms)} as fast (target > 1x)`);
console.log(`  CPU (user+system, with children): clariguard CLI ${fmt(results.cpuCliTree)}${haveGs ? `, git secrets --scan ${fmt(results.cpuGsTree)}` : ''}`);
console.log(`  floors of the CLI: node -e 0 ${fmt(results.nodeBoot.ms)} (CPU ${fmt(results.cpuNodeBoot)}), the git grep pre-filter alone ${fmt(results.grepAlone.ms)} (CPU ${fmt(results.cpuGrepAlone)})`);
console.log('quality on the corpus (%d positives, %d decoys)', cases.reduce((n, c) => n + c.secrets.length, 0), cases.filter((c) => !c.secrets.length).length);
console.log(`  clariguard work tree: precision ${pct(qTree.precision)}, recall ${pct(qTree.recall)} (tp ${qTree.tp}, fp ${qTree.fp}, fn ${qTree.fn})  (targets: precision >= 95%, recall 100%)`);
console.log(`  clariguard history:   precision ${pct(qHist.precision)}, recall ${pct(qHist.recall)} (tp ${qHist.tp}, fp ${qHist.fp}, fn ${qHist.fn})`);
console.log(`  findings outside the corpus (generated code: all false positives): ${outsideCorpus}`);
if (qTree.missed.length + qHist.missed.length) console.log(`  missed: ${[...qTree.missed, ...qHist.missed].slice(0, 10).join(', ')}`);
if (qTree.wrong.length + qHist.wrong.length) console.log(`  false positives: ${[...qTree.wrong, ...qHist.wrong].slice(0, 10).join(', ')}`);
if (haveGs) {
  const gsTreeQ = lineScore(treeCases, parseGitSecrets(results.gsTree.stdout + results.gsTree.stderr, false), 'corpus/');
  const gsHistQ = results.gsHistory.timedOut ? null : lineScore(cases, parseGitSecrets(results.gsHistory.stdout + results.gsHistory.stderr, true), 'corpus/');
  console.log(`  git-secrets work tree (line level, with the Clari patterns added): precision ${pct(gsTreeQ.precision)}, recall ${pct(gsTreeQ.recall)}`);
  if (gsHistQ) console.log(`  git-secrets history (line level): precision ${pct(gsHistQ.precision)}, recall ${pct(gsHistQ.recall)}`);
}
console.log(`load average at end: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (other processes on this machine slow every figure; compare ratios of one run)`);
