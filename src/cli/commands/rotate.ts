import { read } from 'read';
import { UsageError } from '../../errors.js';
import {
  finishRotation,
  resumeRotation,
  rollbackRotation,
  rotateToken,
  RotationError,
  type RotateOptions,
  type RotationCheckpoint,
  type RotationReport,
} from '../../rotate/index.js';
import { SecretValue } from '../../secrets/value.js';
import type { CliContext } from '../context.js';
import { say, writeJson } from '../io.js';
import { readSecretInput } from '../stdin.js';

interface RotateCliOptions {
  consumers?: string;
  baseUrl?: string;
  fromFile?: string;
  resume?: boolean;
  finish?: boolean;
  rollback?: boolean;
  yes?: boolean;
  skipTokenCheck?: boolean;
  json?: boolean;
}

const CHECKPOINTS: RotationCheckpoint[] = ['create', 'test', 'set', 'promote'];

/**
 * TEST-ONLY: CLARIGUARD_ROTATE_CRASH_AFTER=create|test|set|promote kills this process with SIGKILL right
 * after that checkpoint is durable, so tests can prove --resume recovers from a crash at each point.
 */
function crashHook(): ((c: RotationCheckpoint) => void) | undefined {
  const at = process.env.CLARIGUARD_ROTATE_CRASH_AFTER;
  if (!at) return undefined;
  if (!(CHECKPOINTS as string[]).includes(at)) throw new UsageError(`CLARIGUARD_ROTATE_CRASH_AFTER must be one of ${CHECKPOINTS.join(', ')}`);
  return (c) => {
    if (c === at) process.kill(process.pid, 'SIGKILL');
  };
}

async function confirmOnTty(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const answer = await read({ prompt: `${question} [y/N] `, output: process.stderr });
  return /^y(es)?$/i.test(answer.trim());
}

export function registerRotateCommand({ program }: CliContext): void {
  program
    .command('rotate')
    .description('rotate a Clari token safely: create (pending), test against Clari, set (consumer checks), finish (promote); resumable')
    .argument('<ref>', 'secret reference of the token, e.g. local:clari/prod/api-token or aws-sm://clari/prod')
    .option('--consumers <file>', 'consumers.yml: checks run with the pending token before it is promoted')
    .option('--base-url <url>', 'Clari API base URL for the token check (default: $CLARI_BASE_URL or https://api.clari.com/v4)')
    .option('--from-file <file>', 'read the new token from a file instead of stdin or the hidden prompt')
    .option('--resume', 'continue an interrupted rotation from the step its journal records')
    .option('--finish', 'after revoking the old token in Clari: destroy the previous version')
    .option('--rollback', 'abandon a rotation in progress, or make the previous version current again')
    .option('-y, --yes', 'with --finish: confirm the old token was revoked without asking')
    .option('--skip-token-check', 'with --finish/--rollback: do not ask Clari whether the previous token still works')
    .option('--json', 'print the result as JSON on stdout')
    .addHelpText(
      'after',
      '\nThe new token is read from stdin or a hidden prompt, never from the command line.\n' +
        'Examples:\n' +
        '  clariguard rotate local:clari/prod/api-token --consumers consumers.yml   # paste the new token\n' +
        '  clariguard rotate local:clari/prod/api-token --resume --consumers consumers.yml\n' +
        '  clariguard rotate local:clari/prod/api-token --finish                     # after revoking the old one\n' +
        '  clariguard rotate local:clari/prod/api-token --rollback\n' +
        'See docs/rotation.md.\n',
    )
    .action(async (ref: string, opts: RotateCliOptions) => {
      const modes = [opts.resume && '--resume', opts.finish && '--finish', opts.rollback && '--rollback'].filter(Boolean);
      if (modes.length > 1) throw new UsageError(`rotate: ${modes.join(' and ')} cannot be combined`);
      if (opts.yes && !opts.finish) throw new UsageError('rotate: --yes only applies to --finish');
      if (opts.skipTokenCheck && !opts.finish && !opts.rollback) throw new UsageError('rotate: --skip-token-check only applies to --finish and --rollback');
      if ((opts.finish || opts.rollback) && (opts.consumers || opts.fromFile)) {
        throw new UsageError(`rotate: ${modes[0]} takes no --consumers or --from-file`);
      }
      const common = {
        baseUrl: opts.baseUrl,
        onMessage: (line: string) => say(line),
        afterStep: crashHook(),
      };
      const newToken = async () => new SecretValue(await readSecretInput({ fromFile: opts.fromFile, prompt: `New Clari token for ${ref}: ` }));
      let report: RotationReport;
      try {
        report = await runMode(ref, opts, common, newToken);
      } catch (e) {
        // Machine readers get how far it got (consumer results) before the one-line error on stderr.
        if (opts.json && e instanceof RotationError && e.report) writeJson({ ...e.report, error: { code: e.code, exitCode: e.exitCode } });
        throw e;
      }
      if (opts.json) writeJson(report);
      if (report.nextAction) say(`next: ${report.nextAction}`);
    });
}

type Common = Pick<RotateOptions, 'baseUrl' | 'onMessage' | 'afterStep'>;

async function runMode(ref: string, opts: RotateCliOptions, common: Common, newToken: () => Promise<SecretValue>): Promise<RotationReport> {
  if (opts.finish) {
    return finishRotation(ref, {
      ...common,
      skipRevocationCheck: opts.skipTokenCheck,
      confirmRevoked: opts.yes
        ? true
        : async () => {
            if (!process.stdin.isTTY) throw new UsageError('rotate --finish: confirm with --yes that the old token was revoked in Clari (no terminal to ask on)');
            return confirmOnTty('Did you revoke the old token in Clari (Settings → API Token)?');
          },
    });
  }
  if (opts.rollback) return rollbackRotation(ref, { ...common, skipTokenCheck: opts.skipTokenCheck });
  if (opts.resume) return resumeRotation(ref, { ...common, consumers: opts.consumers, newToken });
  return rotateToken(ref, { ...common, consumers: opts.consumers, newToken });
}
