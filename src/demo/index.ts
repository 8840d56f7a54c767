import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { readSecret, writeSecret } from '../secrets/index.js';
import { runWithSecrets } from '../secrets/inject.js';
import { startSandbox } from '../sandbox/index.js';
import { knownQuarters } from '../sandbox/data.js';
import { exportForecast } from '../clari/export.js';
import { loadPseudonymKey, parseRecords, verifyRedaction } from '../redact/index.js';
import { loadRecordsIntoWarehouse } from '../warehouse/index.js';
import { scan } from '../scan/index.js';
import { runAudit } from '../audit/index.js';

export interface DemoOptions {
  /** Where progress lines go (default: stderr). */
  log?: (line: string) => void;
  /** Keep the demo directory (store, project, export, warehouse) instead of deleting it. */
  keep?: boolean;
  /** Synthetic org size. */
  users?: number;
}

export interface DemoStep {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DemoReport {
  steps: DemoStep[];
  protected: {
    rowsExported: number;
    bytesExported: number;
    pseudonymisedValues: number;
    freeTextDetections: number;
    warehouseRows: number;
    scanFindings: number;
    auditFailures: number;
  };
  dir: string | null;
  ms: number;
}

const TOKEN_REF = 'local:clari/demo/api-token';

/**
 * The main job end to end on embedded defaults, in a throwaway directory:
 * a token in the local store -> the Clari sandbox on a free port -> a forecast export streamed through
 * keyed pseudonymisation -> PGlite (embedded PostgreSQL) -> verification -> `run` with masking ->
 * `scan` and `audit` over a small demo project with planted problems. Leaves nothing running.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const started = Date.now();
  const log = options.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const root = mkdtempSync(join(tmpdir(), 'clariguard-demo-'));
  const home = join(root, 'home');
  const project = join(root, 'project');
  const exportsDir = join(root, 'exports');
  const env = { ...process.env, CLARIGUARD_HOME: home, CLARIGUARD_PASSPHRASE: '' };
  const steps: DemoStep[] = [];
  const step = (name: string, ok: boolean, detail: string) => {
    steps.push({ name, ok, detail });
    log(`${ok ? ' ok ' : 'FAIL'}  ${name.padEnd(10)} ${detail}`);
  };
  const prot: DemoReport['protected'] = {
    rowsExported: 0,
    bytesExported: 0,
    pseudonymisedValues: 0,
    freeTextDetections: 0,
    warehouseRows: 0,
    scanFindings: 0,
    auditFailures: 0,
  };

  log('clariguard demo: the Clari pipeline on embedded defaults (throwaway directory, nothing left running)');
  const sandboxToken = `demo_${randomBytes(24).toString('base64url')}`;
  const sandbox = await startSandbox({ port: 0, token: sandboxToken, seed: 7, users: options.users ?? 60, periods: 4, slowJobs: 200 });
  try {
    // 1. The token goes into the age-encrypted local store, never a file or argv.
    mkdirSync(exportsDir, { recursive: true, mode: 0o700 });
    await writeSecret(TOKEN_REF, sandboxToken, { env });
    const token = await readSecret(TOKEN_REF, { env });
    step('token', true, `stored as ${TOKEN_REF} in an age-encrypted store; shown only masked: ${token.masked()}`);
    step('sandbox', true, `Clari-compatible sandbox at ${sandbox.url} (accepts only that token)`);

    // 2. Export a past quarter, redacted on the way to disk with a keyed pseudonymisation key.
    const { key, keyId } = await loadPseudonymKey(undefined, { env });
    const quarters = knownQuarters(7, new Date(), 4);
    const period = quarters[quarters.length - 2].timePeriodId;
    const out = join(exportsDir, `forecast-net_arr-${period}.json`);
    const exp = await exportForecast({
      token,
      baseUrl: sandbox.url,
      forecastId: 'net_arr',
      period,
      types: ['forecast', 'quota'],
      out,
      format: 'json',
      redaction: { mode: 'redact', key },
      stateDir: join(home, 'state', 'exports'),
      poll: { intervalMs: 100 },
    });
    const rep = exp.report!;
    prot.rowsExported = rep.rows;
    prot.bytesExported = statSync(out).size;
    prot.pseudonymisedValues = Object.entries(rep.rules)
      .filter(([rule]) => /pseudonym/.test(rule))
      .reduce((n, [, c]) => n + c, 0);
    prot.freeTextDetections = Object.values(rep.detectors).reduce((n, c) => n + c, 0);
    step(
      'export',
      rep.rows > 0,
      `forecast net_arr ${period}: ${rep.rows} records, ${(exp.bytesIn / 1024).toFixed(0)} KiB streamed through HMAC-SHA-256 pseudonymisation (key ${keyId}); ${prot.pseudonymisedValues} values pseudonymised, ${prot.freeTextDetections} found in free text`,
    );

    // 3. Prove it: nothing identifying is left in the file.
    const verify = await verifyRedaction(out);
    step('verify', verify.clean, verify.clean ? 'verify-redaction: no emails, phone numbers or names left in the export' : `verify-redaction: ${verify.findings.length} leftovers`);

    // 4. Land it in the embedded warehouse (PGlite: real PostgreSQL in-process).
    const load = await loadRecordsIntoWarehouse({
      target: `pglite:${join(root, 'warehouse')}`,
      records: parseRecords(createReadStream(out), 'json', out),
      kind: 'forecast',
      jobId: exp.jobId ?? `demo-${period}`,
      period,
      keyId,
      env,
    });
    prot.warehouseRows = load.totalRows;
    step(
      'warehouse',
      load.totalRows > 0,
      `loaded into PGlite schema ${load.schema}: ${Object.entries(load.rowCounts).map(([t, n]) => `${t} ${n}`).join(', ')}`,
    );

    // 5. A consumer gets the token in its environment; whatever it prints comes back masked.
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    const child = await runWithSecrets({
      env,
      secrets: { CLARI_API_KEY: TOKEN_REF },
      command: process.execPath,
      args: ['-e', 'const t = process.env.CLARI_API_KEY; console.log(`careless consumer prints: ${t} / ${Buffer.from(t).toString("base64")}`)'],
      stdout: sink,
      stderr: sink,
      stdin: 'ignore',
      githubActionsMask: false,
    });
    const childOut = Buffer.concat(chunks).toString('utf8').trim();
    step('run', child.exitCode === 0 && !childOut.includes(sandboxToken), `clariguard run masked the child's output: "${childOut}"`);

    // 6. Scan and audit a small project where someone made the usual mistakes.
    plantDemoProject(project, exportsDir, sandboxToken);
    const work = await scan({ paths: [project], cwd: project, knownRefs: [TOKEN_REF], env });
    const hist = await scan({ cwd: project, history: true, knownRefs: [TOKEN_REF], env });
    const findings = [...work.findings, ...hist.findings];
    prot.scanFindings = findings.length;
    const byRule = countBy(findings.map((f) => f.ruleId));
    const inHistory = hist.findings.filter((f) => f.commit).length;
    step(
      'scan',
      findings.length > 0 && inHistory > 0,
      `caught the planted leaks: ${findings.length} findings (${Object.entries(byRule).map(([r, n]) => `${r} ${n}`).join(', ')}), ${inHistory} in git history`,
    );

    const audit = await runAudit({ configPath: join(project, 'clariguard.yml'), env });
    prot.auditFailures = audit.summary.fail;
    const failing = audit.checks.filter((c) => c.status === 'fail').map((c) => c.id);
    step(
      'audit',
      audit.summary.total === 8 && failing.length > 0,
      `${audit.summary.total} checks: ${audit.summary.pass} pass, ${audit.summary.fail} fail, ${audit.summary.warn} warn, ${audit.summary.skip} skip; failing as planted: ${failing.join(', ')}`,
    );
  } catch (e) {
    step('error', false, e instanceof Error ? e.message : String(e));
  } finally {
    await sandbox.close();
    if (!options.keep) rmSync(root, { recursive: true, force: true });
  }

  const ms = Date.now() - started;
  log(
    `protected: ${prot.rowsExported} exported records (${prot.pseudonymisedValues} values pseudonymised, ${prot.freeTextDetections} free-text detections), ` +
      `${prot.warehouseRows} warehouse rows, ${prot.scanFindings} leaked secrets found, ${prot.auditFailures} failing checklist items reported — in ${(ms / 1000).toFixed(1)} s` +
      (options.keep ? `; kept ${root}` : ''),
  );
  return { steps, protected: prot, dir: options.keep ? root : null, ms };
}

function countBy(items: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[i] = (out[i] ?? 0) + 1;
  return out;
}

/** A repository with the classic mistakes: a token committed then "removed", a tracked .env, a cached signed URL. */
function plantDemoProject(dir: string, exportsDir: string, token: string): void {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=Demo Dev', '-c', 'user.email=dev@example.invalid', '-c', 'commit.gpgsign=false', ...args], {
      cwd: dir,
      stdio: 'ignore',
    });
  git('init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'extract.py'), `import requests\nCLARI_API_KEY = "${token}"\nrequests.post("https://api.clari.com/v4/export/forecast/net_arr", headers={"apikey": CLARI_API_KEY})\n`);
  git('add', 'extract.py');
  git('commit', '-q', '-m', 'first extractor');
  writeFileSync(join(dir, 'extract.py'), `import os, requests\nCLARI_API_KEY = os.environ["CLARI_API_KEY"]\nrequests.post("https://api.clari.com/v4/export/forecast/net_arr", headers={"apikey": CLARI_API_KEY})\n`);
  writeFileSync(join(dir, '.env'), `CLARI_API_KEY=${token}\n`);
  git('add', 'extract.py', '.env');
  git('commit', '-q', '-m', 'read the token from the environment');
  const sig = randomBytes(32).toString('hex');
  writeFileSync(
    join(dir, 'logs', 'download.log'),
    `fetched https://clari-exports.s3.amazonaws.com/job-1/results.json?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261129%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261129T120000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=${sig}\n`,
  );
  // Ben left before the token was (re)issued: the offboarding check passes; moving his date later fails it.
  const leftOn = new Date(Date.now() - 60 * 86_400_000).toISOString().slice(0, 10);
  writeFileSync(
    join(dir, 'people.csv'),
    `name,email,hasTokenAccess,leftOn\nAna Silva,ana.silva@example.com,true,\nBen Okafor,ben.okafor@example.com,true,${leftOn}\nCara Lind,cara.lind@example.com,false,\n`,
  );
  writeFileSync(
    join(dir, 'clariguard.yml'),
    [
      `token: ${TOKEN_REF}`,
      'environment: non-production',
      'maxTokenAgeDays: 90',
      'repos: [.]',
      `exportPaths: [${JSON.stringify(exportsDir)}]`,
      'logPaths: [logs]',
      'roster: people.csv',
      '',
    ].join('\n'),
  );
}
