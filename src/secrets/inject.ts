import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { constants as osConstants } from 'node:os';
import { ClariguardError, ExitCode, UsageError } from '../errors.js';
import { MaskingStream, PatternSet } from '../masking/masker.js';
import { readSecret, type SecretOptions } from './index.js';
import type { SecretValue } from './value.js';

export interface InjectOptions extends SecretOptions {
  /** NAME -> secret reference. */
  secrets: Record<string, string>;
  command: string;
  args?: string[];
  /** Where the child's masked output goes (default: this process's stdout/stderr). */
  stdout?: Writable;
  stderr?: Writable;
  /** Child stdin (default: inherited). */
  stdin?: 'inherit' | 'ignore' | Readable;
  /** Base environment for the child (default: process.env). Injected values are added on top. */
  baseEnv?: Record<string, string | undefined>;
  /** Register the values with the GitHub Actions runner mask (default: when GITHUB_ACTIONS=true). */
  githubActionsMask?: boolean;
  cwd?: string;
  /** Extra values (already read) to inject, e.g. rotate's pending token. */
  values?: Record<string, SecretValue>;
  /** Kill the child after this many ms (rotate's consumer checks). */
  timeoutMs?: number;
}

export interface InjectResult {
  exitCode: number;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Store credentials clariguard itself reads; never inherited by the child. */
const WITHHELD_ENV = ['CLARIGUARD_PASSPHRASE'];

/** Parses `NAME=REF` pairs from `--env`. */
export function parseEnvMappings(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new UsageError(`--env expects NAME=REF (e.g. CLARI_API_KEY=local:clari/prod/api-token)`);
    const name = p.slice(0, eq);
    if (!ENV_NAME.test(name)) throw new UsageError(`--env: "${name}" is not a valid environment variable name`);
    const ref = p.slice(eq + 1);
    if (!/^[a-z][a-z0-9-]*:/.test(ref)) {
      throw new UsageError(`--env ${name}: the value must be a secret reference such as local:clari/prod/api-token, never the secret itself`);
    }
    out[name] = ref;
  }
  return out;
}

/** GitHub's workflow command registering a value with the runner's log mask (one per line of the value). */
export function githubMaskCommands(value: string): string {
  return value
    .split(/\r?\n/)
    .filter((l) => l.length > 0)
    .map((l) => `::add-mask::${l.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')}\n`)
    .join('');
}

/**
 * Runs a command with secrets injected into its environment only (never argv, never this process's
 * env), streaming its stdout and stderr through masking of every injected value and its encodings.
 * Signals are forwarded; the result carries the child's exit code.
 */
export async function runWithSecrets(options: InjectOptions): Promise<InjectResult> {
  const values: Record<string, SecretValue> = { ...(options.values ?? {}) };
  for (const [name, ref] of Object.entries(options.secrets)) values[name] = await readSecret(ref, options);

  const patterns = PatternSet.forSecrets(Object.values(values).map((v) => v.reveal()));
  const useGithubMask = options.githubActionsMask ?? (options.env ?? process.env).GITHUB_ACTIONS === 'true';
  if (useGithubMask) {
    // Written straight to our stderr, not through the masker: the runner consumes workflow commands from
    // stderr as from stdout, and stdout is the child's data, often redirected to a file the value must not reach.
    for (const v of Object.values(values)) process.stderr.write(githubMaskCommands(v.reveal()));
  }

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.baseEnv ?? process.env)) if (v !== undefined) env[k] = v;
  // The child gets the values it asked for, not the key to the whole local store.
  for (const k of WITHHELD_ENV) delete env[k];
  for (const [k, v] of Object.entries(values)) env[k] = v.reveal();

  const stdinOpt = options.stdin ?? 'inherit';
  const child = spawn(options.command, options.args ?? [], {
    env,
    cwd: options.cwd,
    stdio: [typeof stdinOpt === 'string' ? stdinOpt : 'pipe', 'pipe', 'pipe'],
  });
  if (typeof stdinOpt !== 'string' && child.stdin) stdinOpt.pipe(child.stdin);

  const outDone = pump(child.stdout!, new MaskingStream(patterns), options.stdout ?? process.stdout);
  const errDone = pump(child.stderr!, new MaskingStream(patterns), options.stderr ?? process.stderr);

  const forward = (sig: NodeJS.Signals) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  const handlers = FORWARDED.map((sig) => [sig, forward(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);

  let timedOut = false;
  const timer =
    options.timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 2_000).unref();
        }, options.timeoutMs)
      : undefined;

  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', (e: NodeJS.ErrnoException) => {
        reject(
          new ClariguardError(
            e.code === 'ENOENT' ? `command not found: ${options.command}` : `cannot start ${options.command}: ${e.code ?? 'error'}`,
            { exitCode: e.code === 'ENOENT' ? 127 : 126, code: 'spawn_failed' },
          ),
        );
      });
      child.once('close', (c, s) => resolve([c, s]));
    });
    await Promise.all([outDone, errDone]);
    const signalNumber = signal ? (osConstants.signals as Record<string, number>)[signal] ?? 0 : 0;
    return { exitCode: code ?? 128 + signalNumber, signal, timedOut };
  } finally {
    if (timer) clearTimeout(timer);
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}

function pump(src: Readable, masker: MaskingStream, dest: Writable): Promise<void> {
  return new Promise((resolve) => {
    src.pipe(masker);
    masker.on('data', (chunk: Buffer) => {
      if (!dest.write(chunk)) {
        masker.pause();
        dest.once('drain', () => masker.resume());
      }
    });
    masker.once('end', () => resolve());
    masker.once('error', () => resolve());
  });
}

export { ExitCode };
