/**
 * Every error clariguard raises on purpose is a ClariguardError: it carries the process exit code the CLI
 * uses and a one-line message that is safe to print (it never includes a secret value; the CLI also masks
 * every known secret in it as a second line of defence).
 */
export const ExitCode = {
  ok: 0,
  findings: 1,
  usage: 2,
  dataError: 65, // EX_DATAERR: malformed input data
  noInput: 66, // EX_NOINPUT: a secret, file or object that does not exist
  unavailable: 69, // EX_UNAVAILABLE: a store or API could not be reached or refused
  software: 70, // EX_SOFTWARE: a bug in clariguard
  ioError: 74, // EX_IOERR
  tempFail: 75, // EX_TEMPFAIL: try again (lock held, quota window)
  noPermission: 77, // EX_NOPERM: the store or API denied access
  config: 78, // EX_CONFIG: a configuration or policy file is invalid
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class ClariguardError extends Error {
  readonly exitCode: number;
  readonly code: string;
  constructor(message: string, options: { exitCode?: number; code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? 1;
    this.code = options.code ?? 'error';
  }
}

export class UsageError extends ClariguardError {
  constructor(message: string) {
    super(message, { exitCode: ExitCode.usage, code: 'usage' });
  }
}

/** Malformed input: always names where (file, line, byte offset) so the user can find it. */
export class InputError extends ClariguardError {
  readonly file: string;
  readonly line?: number;
  readonly offset?: number;
  readonly column?: number;
  /** The message without the file and location. */
  readonly detail: string;
  constructor(file: string, detail: string, where: { line?: number; offset?: number; column?: number } = {}) {
    const loc = [
      where.line !== undefined ? `line ${where.line}` : undefined,
      where.column !== undefined ? `column ${where.column}` : undefined,
      where.offset !== undefined ? `byte offset ${where.offset}` : undefined,
    ]
      .filter(Boolean)
      .join(', ');
    super(`${file}${loc ? ` (${loc})` : ''}: ${detail}`, { exitCode: ExitCode.dataError, code: 'bad_input' });
    this.file = file;
    this.line = where.line;
    this.offset = where.offset;
    this.column = where.column;
    this.detail = detail;
  }
}

/**
 * An input file that cannot be opened: missing is exit 66 (EX_NOINPUT), not readable is 77, anything else
 * a bad-input error (65). One line, naming the file.
 */
export function inputFileError(file: string, e: unknown, what = 'cannot read'): ClariguardError {
  return missingFileError(file, e) ?? new InputError(file, `${what}: ${errnoOf(e)}`);
}

/** A configuration file (policy, rules, baseline) that cannot be read: 66 missing, 77 not readable, else 78. */
export function configFileError(file: string, e: unknown, what: string): ClariguardError {
  return missingFileError(file, e) ?? new ConfigError(`${file}: ${what} (${errnoOf(e)})`, e);
}

function errnoOf(e: unknown): string {
  return (e as NodeJS.ErrnoException | undefined)?.code ?? (e as Error | undefined)?.message ?? 'error';
}

/** The exit code of a failed read or write that is not about bad data: 77 without permission, else 74. */
export function ioExitCode(errno: string | undefined): number {
  return errno === 'EACCES' || errno === 'EPERM' ? ExitCode.noPermission : ExitCode.ioError;
}

/** A file or directory that cannot be written (a missing directory, no permission, a full disk): one line. */
export function ioFailure(message: string, errno: string | undefined): ClariguardError {
  return new ClariguardError(message, { exitCode: ioExitCode(errno), code: 'io' });
}

/** The exit code of a file that cannot be opened: 66 when it is not there, 77 when it may not be read, else null. */
export function openFailureExitCode(e: unknown): number | null {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return ExitCode.noInput;
  if (code === 'EACCES' || code === 'EPERM') return ExitCode.noPermission;
  return null;
}

function missingFileError(file: string, e: unknown): ClariguardError | null {
  const exitCode = openFailureExitCode(e);
  if (exitCode === ExitCode.noInput) return new ClariguardError(`${file}: no such file`, { exitCode, code: 'not_found' });
  if (exitCode === ExitCode.noPermission) return new ClariguardError(`${file}: permission denied`, { exitCode, code: 'permission_denied' });
  return null;
}

export class ConfigError extends ClariguardError {
  constructor(message: string, cause?: unknown) {
    super(message, { exitCode: ExitCode.config, code: 'config', cause });
  }
}

export class SecretNotFoundError extends ClariguardError {
  constructor(ref: string, detail = 'no such secret') {
    super(`${ref}: ${detail}`, { exitCode: ExitCode.noInput, code: 'secret_not_found' });
  }
}

/** A secret store failed. The message names the store and the operation only, never credentials or values. */
export class StoreError extends ClariguardError {
  readonly backend: string;
  readonly operation: string;
  constructor(
    backend: string,
    operation: string,
    detail: string,
    options: { exitCode?: number; code?: string; cause?: unknown } = {},
  ) {
    super(`${backend} store: ${operation} failed: ${detail}`, {
      exitCode: options.exitCode ?? ExitCode.unavailable,
      code: options.code ?? 'store_error',
      cause: options.cause,
    });
    this.backend = backend;
    this.operation = operation;
  }
}

export function isClariguardError(e: unknown): e is ClariguardError {
  return e instanceof ClariguardError;
}
