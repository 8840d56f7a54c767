import { Command, CommanderError } from 'commander';
import { isClariguardError, ExitCode } from '../errors.js';
import { maskKnownSecrets } from '../masking/registry.js';
import type { CliContext, RegisterCommand } from './context.js';
import { registerSecretCommands } from './commands/secret.js';
import { registerRunCommand } from './commands/run.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerRotateCommand } from './commands/rotate.js';
import { registerScanCommand } from './commands/scan.js';
import { registerRedactCommands } from './commands/redact.js';
import { registerWarehouseCommands } from './commands/warehouse.js';
import { registerAuditCommand } from './commands/audit.js';
import { registerExportCommands } from './commands/export.js';
import { registerSandboxCommand } from './commands/sandbox.js';
import { VERSION } from '../version.js';

/** Every command module, in help order. Adding a command = one module + one line here. */
const COMMANDS: RegisterCommand[] = [registerSecretCommands, registerRunCommand, registerDemoCommand, registerRotateCommand, registerScanCommand, registerRedactCommands, registerWarehouseCommands, registerAuditCommand, registerExportCommands, registerSandboxCommand];

export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('clariguard')
    .description('Secure-by-default Clari integration: token custody, keyed pseudonymisation, scanning and audit.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(maskKnownSecrets(s)),
    });
  const ctx: CliContext = { program, setExitCode };
  for (const register of COMMANDS) register(ctx);
  return program;
}

/** Runs the CLI; resolves to the process exit code. Never throws, never prints a stack (unless CLARIGUARD_DEBUG). */
export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  try {
    const program = buildProgram((c) => {
      exitCode = c;
    });
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return ExitCode.usage;
    }
    if (isClariguardError(e)) {
      process.stderr.write(`clariguard: ${maskKnownSecrets(e.message)}\n`);
      if (process.env.CLARIGUARD_DEBUG && e.cause) process.stderr.write(`${maskKnownSecrets(String((e.cause as Error)?.stack ?? e.cause))}\n`);
      return e.exitCode;
    }
    const err = e as Error;
    process.stderr.write(`clariguard: internal error: ${maskKnownSecrets(err?.message ?? String(e))}\n`);
    if (process.env.CLARIGUARD_DEBUG) process.stderr.write(`${maskKnownSecrets(String(err?.stack))}\n`);
    return ExitCode.software;
  }
}
