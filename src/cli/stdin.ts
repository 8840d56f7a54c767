import { closeSync, openSync, readSync } from 'node:fs';
import { read } from 'read';
import { ClariguardError, ExitCode, InputError, openFailureExitCode, UsageError } from '../errors.js';

const MAX_SECRET_BYTES = 64 * 1024;

/** Reads a secret from a file, a piped stdin, or a hidden prompt asked twice on a TTY. Never from argv. */
export async function readSecretInput(options: { fromFile?: string; prompt?: string; confirm?: boolean } = {}): Promise<string> {
  if (options.fromFile) {
    return cleanSecretText(readFileLimited(options.fromFile), options.fromFile);
  }
  if (process.stdin.isTTY) {
    const prompt = options.prompt ?? 'Secret value: ';
    const first = await read({ prompt, silent: true, replace: '*', output: process.stderr });
    if (options.confirm !== false) {
      const second = await read({ prompt: 'Again, to confirm: ', silent: true, replace: '*', output: process.stderr });
      if (first !== second) throw new UsageError('the two entries differ; nothing was stored');
    }
    if (!first) throw new UsageError('empty value; nothing was stored');
    return first;
  }
  return cleanSecretText(await readAllStdin(), '<stdin>');
}

export async function readAllStdin(limit = MAX_SECRET_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin) {
    const b = chunk as Buffer;
    total += b.length;
    if (total > limit) throw new InputError('<stdin>', `larger than ${limit} bytes, which no secret is; nothing was stored`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads at most `limit` bytes: a device or a pipe (`--from-file <(cmd)`) may never end, and a file picked by
 * mistake may be huge; either must fail fast instead of filling memory.
 */
function readFileLimited(file: string, limit = MAX_SECRET_BYTES): Buffer {
  const fail = (e: unknown): never => {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    const exitCode = openFailureExitCode(e) ?? ExitCode.usage;
    throw new ClariguardError(`cannot read ${file}: ${code}`, { exitCode, code: exitCode === ExitCode.noInput ? 'not_found' : 'usage' });
  };
  let fd = -1;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    fail(e);
  }
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    const chunk = Buffer.alloc(16 * 1024);
    for (;;) {
      let n = 0;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (e) {
        fail(e);
      }
      if (n === 0) return Buffer.concat(chunks);
      total += n;
      if (total > limit) throw new InputError(file, `larger than ${limit} bytes, which no secret is; nothing was stored`);
      chunks.push(Buffer.from(chunk.subarray(0, n)));
    }
  } finally {
    closeSync(fd);
  }
}

/** One trailing newline (from echo or a file) is not part of the secret; anything else is. */
function cleanSecretText(buf: Buffer, source: string): string {
  const text = buf.toString('utf8');
  if (Buffer.from(text, 'utf8').compare(buf) !== 0) throw new InputError(source, 'secret is not valid UTF-8');
  const value = text.replace(/\r?\n$/, '');
  if (!value) throw new UsageError(`${source} is empty; nothing was stored`);
  if (value.includes('\0')) throw new InputError(source, 'secret contains a NUL byte');
  return value;
}
