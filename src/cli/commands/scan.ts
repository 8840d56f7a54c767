import { Option } from 'commander';
import { isClariguardError, ioFailure, UsageError } from '../../errors.js';
import { ExitCode } from '../../errors.js';
import { knownSecretPatterns, maskKnownSecrets } from '../../masking/registry.js';
// run.js, not index.js: the scan loads its modules as git needs them (see run.ts); the report formats and
// the atomic writer load once the scan is done.
import { scanForReport, writeScanBaseline } from '../../scan/run.js';
import type { ScanOptions } from '../../scan/types.js';
import { collect, type CliContext } from '../context.js';
import { progressEnabled, say } from '../io.js';
import type { ScanStats } from '../../scan/types.js';

interface ScanCliOptions {
  history?: boolean;
  since?: string;
  staged?: boolean;
  format: 'text' | 'json' | 'sarif';
  json?: boolean;
  output?: string;
  baseline?: string;
  writeBaseline?: string;
  known: string[];
  defaultRules: boolean;
  rules?: string;
  rule: string[];
  allFiles?: boolean;
  maxFileSize?: string;
}

function parseSize(s: string): number {
  const m = /^(\d+)\s*([kmg]i?b?)?$/i.exec(s.trim());
  if (!m) throw new UsageError(`--max-file-size: not a size: ${JSON.stringify(s)} (e.g. 5MiB, 500k)`);
  const unit = (m[2] ?? '').toLowerCase()[0];
  return Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1);
}

export function registerScanCommand({ program, setExitCode }: CliContext): void {
  program
    .command('scan')
    .description('find Clari tokens, known secret values, signed download URLs and store credentials in files and git history')
    .argument('[path...]', 'files or directories (default: the current directory); with --history/--staged, pathspecs')
    .option('--history', 'scan every commit reachable from any ref (git log -p --all), reporting the commit that added each secret')
    .option('--since <rev>', 'with --history: only commits not reachable from REV (REV..)')
    .option('--staged', 'scan the staged changes (git diff --cached), for pre-commit hooks')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'sarif']).default('text'))
    .option('--json', 'same as --format json')
    .option('-o, --output <file>', 'write the report to FILE (atomically) instead of stdout')
    .option('--baseline <file>', 'ignore findings whose fingerprints this baseline lists')
    .option('--write-baseline <file>', 'write the fingerprints of all current findings to FILE and exit 0')
    .option('--known <ref>', 'also find this secret\'s real value (raw, base64, URL, hex), read from the store (repeatable)', collect, [])
    .option('--no-default-rules', 'run only the rules from --rules (and --known)')
    .option('--rules <file>', 'extra rules from a YAML/JSON file')
    .option('--rule <id>', 'run only this rule (repeatable)', collect, [])
    .option('--all-files', 'in a repository, also scan files .gitignore excludes (e.g. a local .env)')
    .option('--max-file-size <size>', 'skip files larger than this (default 5MiB)')
    .addHelpText(
      'after',
      `
Exit codes: 0 no findings, 1 findings, 2 usage, 78 bad rules/baseline file.
Suppress a false positive with a "clariguard:allow" comment on its line, or a baseline (--write-baseline).

Examples:
  clariguard scan                                  # the work tree (what git would commit)
  clariguard scan --history --format sarif -o clariguard.sarif
  clariguard scan --staged --known local:clari/prod/api-token
`,
    )
    .action(async (paths: string[], opts: ScanCliOptions) => {
      const format = opts.json ? 'json' : opts.format;
      const options: ScanOptions = {
        paths,
        history: opts.history,
        since: opts.since,
        staged: opts.staged,
        knownRefs: opts.known,
        rules: opts.rules,
        noDefaultRules: opts.defaultRules === false,
        baseline: opts.baseline,
        ruleIds: opts.rule.length ? opts.rule : undefined,
        allFiles: opts.allFiles,
        maxFileBytes: opts.maxFileSize ? parseSize(opts.maxFileSize) : undefined,
        onProgress: progressEnabled() ? progressLine(opts.history || opts.staged ? 'commits' : 'files') : undefined,
      };
      if (opts.writeBaseline) {
        if (opts.baseline) throw new UsageError('--write-baseline and --baseline cannot be combined');
        const { count } = await writing(opts.writeBaseline, 'baseline', () => writeScanBaseline(opts.writeBaseline!, options));
        say(`wrote ${count} fingerprint${count === 1 ? '' : 's'} to ${opts.writeBaseline}`);
        setExitCode(ExitCode.ok);
        return;
      }
      let scanned: Awaited<ReturnType<typeof scanForReport>>;
      try {
        scanned = await scanForReport(options);
      } finally {
        if (options.onProgress) process.stderr.write('\r\x1b[2K');
      }
      const { result, rules } = scanned;
      const { formatText, toJsonReport, toSarif } = await import('../../scan/format.js');
      const body =
        format === 'json'
          ? `${JSON.stringify(toJsonReport(result), null, 2)}\n`
          : format === 'sarif'
            ? `${JSON.stringify(toSarif(result, rules), null, 2)}\n`
            : formatText(result);
      // Findings hold only masked snippets; masking known values again is a second line of defence.
      const safe = maskReport(body);
      if (opts.output) {
        const { writeFileAtomicSync } = await import('../../util/atomic.js');
        const target = opts.output;
        await writing(target, 'report', () => writeFileAtomicSync(target, safe, 0o644));
        say(`${result.findings.length} finding${result.findings.length === 1 ? '' : 's'}; report written to ${opts.output}`);
      } else process.stdout.write(safe);
      for (const u of format === 'text' ? [] : result.stats.unreadable) say(`warning: unreadable: ${u}`);
      setExitCode(result.findings.length ? ExitCode.findings : ExitCode.ok);
    });
}

/** A file that cannot be written (a missing directory, no permission) is one line and exit 74/77, not an internal error. */
async function writing<T>(target: string, what: string, write: () => T | Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (isClariguardError(e) || typeof code !== 'string') throw e;
    throw ioFailure(`${target}: cannot write the ${what} (${code})`, code);
  }
}

/**
 * maskKnownSecrets() on the whole report. It compares every byte in JavaScript; a native search first tells
 * whether any known value (in any encoding) occurs at all, which in a report of masked snippets it should not.
 */
function maskReport(body: string): string {
  const { patterns } = knownSecretPatterns();
  if (patterns.length === 0) return body;
  const bytes = Buffer.from(body, 'utf8');
  return patterns.some((p) => bytes.includes(p)) ? maskKnownSecrets(body) : body;
}

/** One progress line on a terminal for long scans: scanning history: 1,200 commits, 45 MB. */
function progressLine(unit: 'commits' | 'files'): (stats: Readonly<ScanStats>) => void {
  let last = 0;
  return (stats) => {
    const now = Date.now();
    if (now - last < 200) return;
    last = now;
    const n = unit === 'commits' ? stats.commits : stats.files;
    process.stderr.write(`\r\x1b[2Kscanning: ${n.toLocaleString('en-US')} ${unit}, ${(stats.bytes / 1e6).toFixed(1)} MB`);
  };
}
