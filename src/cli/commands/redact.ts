import type { CliContext } from '../context.js';
import { basename } from 'node:path';
import { progressEnabled, say, warn, writeJson, writeOut } from '../io.js';
import { writeFileAtomicSync } from '../../util/atomic.js';
import { UsageError } from '../../errors.js';
// Narrow imports: a redaction with a preset loads neither zod (policy files), the warehouse sinks nor the
// verifier; each loads when its option is used.
import type { RedactionReport } from '../../redact/engine.js';
import { checkWritableTarget, DEFAULT_KEY_REF, loadPseudonymKey, prewarmRedaction, redactFile } from '../../redact/file.js';
import { listPresets } from '../../redact/presets.js';
import { requireFormat } from '../../redact/formats.js';
import { isWarehouseTarget } from '../../warehouse/db.js';

interface RedactOpts {
  in?: string;
  out?: string;
  format?: string;
  policy?: string;
  preset?: string;
  key: string;
  report?: string;
  listPresets?: boolean;
  singlePass?: boolean;
  threads?: string;
  jobId?: string;
  json?: boolean;
}

function summary(r: RedactionReport): string {
  const det = Object.entries(r.detectors)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const mb = r.bytesIn / 1e6;
  const rate = r.durationMs > 0 ? ` (${(mb / (r.durationMs / 1000)).toFixed(1)} MB/s)` : '';
  return `redacted ${r.rows} records, ${mb.toFixed(1)} MB${rate}; preset ${r.preset ?? r.policy ?? 'custom'}, key ${r.keyId}; free-text found: ${det || 'nothing'}`;
}

export function registerRedactCommands({ program, setExitCode }: CliContext): void {
  program
    .command('redact')
    .description('pseudonymise a Clari export (JSON, NDJSON or CSV) with a keyed HMAC; stdin/stdout by default')
    .option('--in <file>', 'input file (default: stdin)')
    .option('--out <file>', 'output file, written atomically (default: stdout); or a warehouse: postgres://…, pglite:DIR, or a secret reference holding the URL (docs/warehouse.md)')
    .option('--job-id <id>', 'with a warehouse --out: the export job id (default: the --in file name); loading it again replaces its rows')
    .option('--format <format>', 'json | ndjson | csv (default: from the file name or the content)')
    .option('--policy <file>', 'redaction policy (YAML); see docs/redaction.md')
    .option('--preset <name>', 'built-in policy (default: detected from the data); see --list-presets')
    .option('--key <ref>', 'secret reference of the pseudonymisation key (created on first use)', DEFAULT_KEY_REF)
    .option('--report <file>', 'write the redaction report (counts only, no PII) as JSON')
    .option('--single-pass', 'skip the roster pre-pass over --in (faster; names are only known once seen)')
    .option('--threads <n>', 'threads for a file given with --in (default: one per CPU, up to 8, for files of 16 MB or more, but one for JSON/NDJSON on fewer than 4 CPUs; 0 or 1: this thread only)')
    .option('--list-presets', 'list the built-in presets and exit')
    .option('--json', 'with --list-presets: print as JSON; otherwise print the report as JSON on stderr')
    .action(async (opts: RedactOpts) => {
      if (opts.listPresets) {
        const presets = listPresets();
        if (opts.json) writeJson({ presets });
        else writeOut(presets.map((p) => `${p.name.padEnd(14)} ${p.description}`).join('\n'));
        return;
      }
      if (opts.policy && opts.preset) throw new UsageError('use either --policy or --preset, not both');
      const format = requireFormat(opts.format);
      if (opts.threads !== undefined && !/^\d{1,2}$/.test(opts.threads)) throw new UsageError('--threads must be a number from 0 to 99');
      // Before any work: a report that cannot be written must not fail the run after the output was committed.
      if (opts.report) checkWritableTarget(opts.report, 'report');
      const threads = opts.threads === undefined ? undefined : Number(opts.threads);
      // A big file is cut into ranges for threads: they start loading now, while the key is read.
      if (!(opts.out && isWarehouseTarget(opts.out))) prewarmRedaction({ in: opts.in, singlePass: opts.singlePass, threads });
      const { key } = await loadPseudonymKey(opts.key);
      if (opts.out && isWarehouseTarget(opts.out)) {
        const { redactIntoWarehouse } = await import('../../warehouse/index.js');
        const { report, load } = await redactIntoWarehouse({ in: opts.in, format, preset: opts.preset, policyFile: opts.policy, key, singlePass: opts.singlePass, target: opts.out, jobId: opts.jobId, warn });
        if (opts.report) writeFileAtomicSync(opts.report, `${JSON.stringify(report, null, 2)}\n`, 0o644);
        if (opts.json) process.stderr.write(`${JSON.stringify({ ...report, warehouse: load })}\n`);
        else say(`${summary(report)}; loaded job ${load.jobId} into ${load.target} (${load.totalRows} rows)`);
        return;
      }
      const onProgress = progressEnabled() && opts.in && opts.in !== '-' ? progressLine(opts.in) : undefined;
      let report: RedactionReport;
      try {
        report = await redactFile({ in: opts.in, out: opts.out, format, preset: opts.preset, policyFile: opts.policy, key, singlePass: opts.singlePass, threads, onProgress });
      } finally {
        if (onProgress) process.stderr.write('\r\x1b[2K');
      }
      if (opts.report) writeFileAtomicSync(opts.report, `${JSON.stringify(report, null, 2)}\n`, 0o644);
      if (opts.json) process.stderr.write(`${JSON.stringify(report)}\n`);
      else say(summary(report));
    });

  program
    .command('verify-redaction')
    .description('check a file for leftover PII: emails, phone numbers, roster names, reversible bare SHA-256 hashes (exit 1 if any)')
    .argument('<file>', 'the file to check')
    .option('--roster <csv>', 'CSV of the people to look for (name/email columns), also used to reverse bare hashes')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { roster?: string; json?: boolean }) => {
      const { verifyRedaction } = await import('../../redact/verify.js');
      const r = await verifyRedaction(file, { roster: opts.roster });
      if (opts.json) writeJson(r);
      else if (r.clean) say(`${file}: no emails, phone numbers${opts.roster ? ', roster names or reversible hashes' : ''} found`);
      else {
        writeOut(r.findings.map((f) => `${f.file}:${f.line}${f.column ? `:${f.column}` : ''}: ${f.kind}: ${f.detail}`).join('\n'));
        say(`${r.findings.length + (r.omitted ?? 0)} finding(s)${r.reversed ? `; ${r.reversed} bare SHA-256 value(s) reversed from the roster` : ''}`);
      }
      if (!r.clean) setExitCode(1);
    });
}

/** A one-line progress display on a terminal: redacting F: 45% of 274 MB. */
function progressLine(file: string): (done: number, total: number | null) => void {
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (now - last < 200) return;
    last = now;
    const text = total ? `${Math.min(99, Math.floor((100 * done) / total))}%` : `${(done / 1e6).toFixed(0)} MB read`;
    process.stderr.write(`\r\x1b[2Kredacting ${basename(file)}: ${text}`);
  };
}
