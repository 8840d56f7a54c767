import { readFileSync } from 'node:fs';
import { read } from 'read';
import { InputError, UsageError } from '../errors.js';

const MAX_SECRET_BYTES = 64 * 1024;

/** Reads a secret from a file, a piped stdin, or a hidden prompt asked twice on a TTY. Never from argv. */
export async function readSecretInput(options: { fromFile?: string; prompt?: string; confirm?: boolean } = {}): Promise<string> {
  if (options.fromFile) {
    let buf: Buffer;
    try {
      buf = readFileSync(options.fromFile);
    } catch (e) {
      throw new UsageError(`cannot read ${options.fromFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    return cleanSecretText(buf, options.fromFile);
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
    if (total > limit) throw new UsageError(`secret input is larger than ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
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
