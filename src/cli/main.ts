import { Command, CommanderError } from 'commander';
import { isClariguardError, ExitCode, UsageError } from '../errors.js';
import { maskKnownSecrets } from '../masking/registry.js';
import type { CliContext, RegisterCommand } from './context.js';
import { VERSION } from '../version.js';

interface CommandModule {
  /** Top-level command names the module registers. */
  names: string[];
  load: () => Promise<RegisterCommand>;
}

/**
 * Every command module, in help order. Adding a command = one module + one entry here. Modules are
 * loaded on demand: `clariguard secret get` must not pay for PGlite, libphonenumber or the cloud SDKs.
 */
const COMMANDS: CommandModule[] = [
  { names: ['secret'], load: async () => (await import('./commands/secret.js')).registerSecretCommands },
  { names: ['run'], load: async () => (await import('./commands/run.js')).registerRunCommand },
  { names: ['export'], load: async () => (await import('./commands/export.js')).registerExportCommands },
  { names: ['redact', 'verify-redaction'], load: async () => (await import('./commands/redact.js')).registerRedactCommands },
  { names: ['scan'], load: async () => (await import('./commands/scan.js')).registerScanCommand },
  { names: ['audit'], load: async () => (await import('./commands/audit.js')).registerAuditCommand },
  { names: ['rotate'], load: async () => (await import('./commands/rotate.js')).registerRotateCommand },
  { names: ['warehouse'], load: async () => (await import('./commands/warehouse.js')).registerWarehouseCommands },
  { names: ['sandbox'], load: async () => (await import('./commands/sandbox.js')).registerSandboxCommand },
  { names: ['demo'], load: async () => (await import('./commands/demo.js')).registerDemoCommand },
];

/** The modules needed for this argv: the named command's, or all of them (help, unknown command). */
export function commandModulesFor(argv: string[]): CommandModule[] {
  // Commander answers a leading --version before looking at any command: no module needed.
  if (argv[0] === '--version' || argv[0] === '-V') return [];
  const first = argv.find((a) => !a.startsWith('-'));
  const hit = first === undefined ? undefined : COMMANDS.find((c) => c.names.includes(first));
  return hit && first === argv[0] ? [hit] : COMMANDS;
}

export async function buildProgram(setExitCode: (code: number) => void, argv: string[] = []): Promise<Command> {
  const program = new Command('clariguard')
    .description('Secure-by-default Clari integration: token custody, keyed pseudonymisation, scanning and audit.')
    .version(VERSION)
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(maskKnownSecrets(s)),
      // Commander's own usage errors (unknown option, missing argument, bad choice…) follow the house style:
      // one line, `clariguard: …`, the help hint on the same line rather than a second one.
      outputError: (s, write) => write(`clariguard: ${s.trim().replace(/^error: /, '')} (run with --help for usage)\n`),
    });
  const ctx: CliContext = { program, setExitCode };
  const modules = commandModulesFor(argv);
  const registers = await Promise.all(modules.map((m) => m.load()));
  for (const register of registers) register(ctx);
  return program;
}

/**
 * `clariguard secret` (a command group without one of its commands) and `clariguard help nosuch`: commander
 * would print the whole help on stderr and exit 0; a missing or unknown command is a usage error (exit 2,
 * one line). Options, unknown commands and leaf commands' operands are left to commander.
 */
export function checkCommandPath(program: Command, argv: string[]): void {
  let cmd = program;
  const path = [program.name()];
  const find = (name: string) => cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('-')) return;
    const sub = find(a);
    if (!sub) {
      const next = argv[i + 1];
      if (a === 'help' && cmd.commands.length > 0 && next !== undefined && !next.startsWith('-') && !find(next)) {
        throw new UsageError(`unknown command '${next}' (run '${path.join(' ')} --help' for the list)`);
      }
      return;
    }
    cmd = sub;
    path.push(sub.name());
  }
  if (cmd.commands.length > 0) {
    const names = cmd.commands.map((c) => c.name()).join(', ');
    throw new UsageError(`missing command: '${path.join(' ')}' needs one of ${names} (run '${path.join(' ')} --help' for usage)`);
  }
}

/**
 * A reader that stops early (`clariguard scan | head`) closes stdout: end quietly, as a program killed by
 * SIGPIPE would (exit 141), instead of an unhandled EPIPE with a stack trace. Other stdout errors are real.
 */
let stdoutGuarded = false;
function quietOnClosedStdout(): void {
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(128 + 13);
    // Only failed writes are ours to report here; a pipeline that destroys stdout with its own error (bad
    // input, say) reports that error through the normal path.
    if (e.syscall !== 'write') return;
    process.stderr.write(`clariguard: cannot write to stdout: ${e.code ?? e.message}\n`);
    process.exit(ExitCode.ioError);
  });
}

/** Runs the CLI; resolves to the process exit code. Never throws, never prints a stack (unless CLARIGUARD_DEBUG). */
export async function main(argv: string[]): Promise<number> {
  quietOnClosedStdout();
  let exitCode = 0;
  try {
    const program = await buildProgram((c) => {
      exitCode = c;
    }, argv);
    checkCommandPath(program, argv);
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      // `help` shown because of a usage error (commander sets exit code 1 then) is a usage error.
      if (e.code === 'commander.help') return e.exitCode === 0 ? 0 : ExitCode.usage;
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
