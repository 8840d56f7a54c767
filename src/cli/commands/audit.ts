import { Option } from 'commander';
import { resolve } from 'node:path';
import { CHECKS } from '../../audit/checks/index.js';
import { auditConfigJsonSchema } from '../../audit/config.js';
import { AUDIT_FORMATS, formatReport, summaryLine, type AuditFormat } from '../../audit/report.js';
import { runAudit, type FailOn } from '../../audit/runner.js';
import { ioFailure } from '../../errors.js';
import { maskKnownSecrets } from '../../masking/registry.js';
import { writeFileAtomicSync } from '../../util/atomic.js';
import { collect, type CliContext } from '../context.js';
import { progressEnabled, say, writeOut } from '../io.js';

interface AuditCliOptions {
  config?: string;
  format: AuditFormat;
  json?: boolean;
  failOn: FailOn;
  only: string[];
  output?: string;
  list?: boolean;
  printSchema?: boolean;
}

export function registerAuditCommand({ program, setExitCode }: CliContext): void {
  program
    .command('audit')
    .description('run the security checklist (token custody, .env files, warehouse grants, PII, signed URLs, rotation) and report')
    .option('-c, --config <file>', 'the config file (default: ./clariguard.yml)')
    .addOption(new Option('-f, --format <format>', 'report format').choices([...AUDIT_FORMATS]).default('text'))
    .option('--json', 'same as --format json')
    .addOption(new Option('--fail-on <status>', 'exit 1 when a check has this status or worse').choices(['fail', 'warn']).default('fail'))
    .option('--only <id...>', 'run only these checks (repeatable, or comma-separated)', collect, [])
    .option('-o, --output <file>', 'write the report to a file (atomically) instead of stdout')
    .option('--list', 'list the checks and exit')
    .option('--print-schema', 'print the JSON schema of clariguard.yml and exit')
    .addHelpText(
      'after',
      `\nChecks: ${CHECKS.map((c) => c.id).join(', ')}\nExit codes: 0 passed, 1 a check at or above --fail-on failed, 2 usage, 66 config not found, 78 invalid config.\nExample:\n  clariguard audit --format sarif --output audit.sarif --fail-on warn\n`,
    )
    .action(async (opts: AuditCliOptions) => {
      if (opts.printSchema) {
        writeOut(JSON.stringify(auditConfigJsonSchema(), null, 2));
        return;
      }
      if (opts.list) {
        writeOut(CHECKS.map((c) => `${c.id.padEnd(32)} ${c.title}`).join('\n'));
        return;
      }
      const only = opts.only.flatMap((o) => o.split(',')).map((s) => s.trim()).filter(Boolean);
      const report = await runAudit({
        configPath: opts.config,
        failOn: opts.failOn,
        only,
        onCheck: progressEnabled() ? (c, i, n) => process.stderr.write(`\r\x1b[K[${i + 1}/${n}] ${c.id}…`) : undefined,
      });
      if (progressEnabled()) process.stderr.write('\r\x1b[K');
      const format: AuditFormat = opts.json ? 'json' : opts.format;
      const text = maskKnownSecrets(formatReport(report, format));
      if (opts.output) {
        try {
          writeFileAtomicSync(resolve(opts.output), text, 0o644);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code ?? 'error';
          throw ioFailure(`${opts.output}: cannot write the report (${code})`, code);
        }
        say(`wrote ${opts.output}: ${summaryLine(report)}`);
      } else {
        process.stdout.write(text);
        if (format !== 'text') say(summaryLine(report));
      }
      setExitCode(report.summary.exitCode);
    });
}
