import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { InputError, ioExitCode, SecretNotFoundError, StoreError, UsageError } from '../../errors.js';
import type { SecretRef } from '../ref.js';
import type { BackendContext, ReadOptions, ReaderReport, SecretBackend, SecretDescription } from '../types.js';
import { SecretValue } from '../value.js';
import { ReadOnlyBackend } from './readonly.js';

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export interface DotenvEntry {
  value: string;
  /** 1-based line where the assignment starts. */
  line: number;
}

/**
 * Parses a .env file the way dotenv/docker compose users write them:
 * `KEY=value`, optional `export ` prefix, spaces around `=`, `#` comment lines, ` #` inline comments after
 * unquoted values, 'single quotes' (literal), "double quotes" (\n \r \t \" \\ escapes) and `backticks`
 * (literal), quoted values spanning lines, CRLF, a UTF-8 BOM. The last assignment of a key wins. No
 * `${VAR}` expansion: values are taken literally. Malformed lines fail with the file and line, never the
 * line's text (it may hold a secret).
 */
export function parseDotenv(text: string, file: string): Map<string, DotenvEntry> {
  const src = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const out = new Map<string, DotenvEntry>();
  let i = 0;
  let line = 1;
  const n = src.length;
  while (i < n) {
    const lineStart = line;
    let eol = src.indexOf('\n', i);
    if (eol < 0) eol = n;
    const raw = src.slice(i, eol);
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      i = eol + 1;
      line += 1;
      continue;
    }
    const m = /^\s*(?:export\s+)?([^\s=]+)\s*=\s*/.exec(raw);
    if (!m) throw new InputError(file, 'expected KEY=VALUE (or a # comment)', { line: lineStart });
    const key = m[1];
    if (!KEY_RE.test(key)) throw new InputError(file, 'invalid variable name (use letters, digits and _)', { line: lineStart });
    let j = i + m[0].length;
    const quote = src[j];
    let value: string;
    if (quote === '"' || quote === "'" || quote === '`') {
      j += 1;
      let buf = '';
      let closed = false;
      while (j < n) {
        const c = src[j];
        if (c === quote) {
          closed = true;
          j += 1;
          break;
        }
        if (c === '\\' && quote === '"' && j + 1 < n) {
          const next = src[j + 1];
          const map: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\', $: '$' };
          if (next in map) {
            buf += map[next];
            j += 2;
            continue;
          }
        }
        if (c === '\n') line += 1;
        buf += c;
        j += 1;
      }
      if (!closed) throw new InputError(file, `unterminated ${quote} quote`, { line: lineStart });
      // After the closing quote only whitespace and an optional comment may follow.
      let end = src.indexOf('\n', j);
      if (end < 0) end = n;
      const rest = src.slice(j, end);
      if (rest.trim() !== '' && !/^\s+#/.test(rest) && !rest.trim().startsWith('#')) {
        throw new InputError(file, 'unexpected text after the closing quote', { line });
      }
      value = buf;
      j = end;
    } else {
      const restOfLine = src.slice(j, eol);
      // An unquoted value ends at a comment that follows whitespace (`a#b` keeps its `#`).
      const hash = restOfLine.search(/\s#/);
      value = (hash >= 0 ? restOfLine.slice(0, hash) : restOfLine).trim();
      j = eol;
    }
    out.set(key, { value, line: lineStart });
    i = j + 1;
    line += 1;
  }
  return out;
}

/**
 * `dotenv:PATH#KEY`: one key of a .env file, read-only. It exists so a token can move from a developer's
 * .env into a team store (`clariguard secret copy dotenv:.env#CLARI_API_KEY aws-sm://…`) without passing
 * through argv or another file. Relative paths resolve against the working directory.
 */
export class DotenvBackend extends ReadOnlyBackend implements SecretBackend {
  readonly scheme = 'dotenv';
  constructor(private readonly cwd: string = process.cwd()) {
    super();
  }
  static fromContext(_ctx: BackendContext): DotenvBackend {
    return new DotenvBackend();
  }

  private fileOf(ref: SecretRef): string {
    return isAbsolute(ref.path) ? ref.path : resolve(this.cwd, ref.path);
  }

  private keyOf(ref: SecretRef): string {
    if (!ref.fragment) throw new UsageError(`${ref.raw}: name the key to read, e.g. dotenv:${ref.path}#CLARI_API_KEY`);
    return ref.fragment;
  }

  private load(ref: SecretRef): Map<string, DotenvEntry> {
    const file = this.fileOf(ref);
    let text: string;
    try {
      text = readBounded(file);
    } catch (e) {
      if (e instanceof InputError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new SecretNotFoundError(ref.raw, `file ${file} does not exist`);
      throw new StoreError('dotenv', 'read', `cannot read ${file} (${code ?? 'error'})`, {
        exitCode: ioExitCode(code),
      });
    }
    const entries = parseDotenv(text, file);
    // Every value in the file is a potential secret: register them all so nothing prints them unmasked.
    for (const e of entries.values()) if (e.value.length >= 6) new SecretValue(e.value);
    return entries;
  }

  async read(ref: SecretRef, opts?: ReadOptions): Promise<SecretValue> {
    this.onlyCurrent(ref, opts);
    const key = this.keyOf(ref);
    const entry = this.load(ref).get(key);
    if (!entry) throw new SecretNotFoundError(ref.raw, `${this.fileOf(ref)} has no key ${key}`);
    if (entry.value === '') throw new SecretNotFoundError(ref.raw, `${key} is empty in ${this.fileOf(ref)} (line ${entry.line})`);
    return new SecretValue(entry.value);
  }

  async describe(ref: SecretRef): Promise<SecretDescription> {
    await this.read(ref);
    const mtime = statSync(this.fileOf(ref)).mtime.toISOString();
    return {
      ref: ref.raw,
      backend: 'dotenv',
      versions: [{ id: 'file', stages: ['current'], createdAt: mtime }],
      rotatedAt: null,
      ageDays: null,
      tags: {},
      rotation: null,
    };
  }

  async readers(ref: SecretRef): Promise<ReaderReport> {
    const file = this.fileOf(ref);
    const st = statSync(file);
    const mode = st.mode & 0o777;
    const principals = [`uid:${st.uid}`];
    if (mode & 0o040) principals.push(`gid:${st.gid} (group read access)`);
    if (mode & 0o004) principals.push('anyone (world read access)');
    return {
      principals,
      evidence: [
        `${file}: owner uid ${st.uid}, mode ${mode.toString(8).padStart(4, '0')}`,
        'a .env file is plaintext: anyone who can read the file, its backups or the repository it is committed to can read the value',
      ],
      wildcard: (mode & 0o004) !== 0,
    };
  }
}

/** Far above any real .env file; a device or endless pipe named by mistake must not fill memory. */
const MAX_DOTENV_BYTES = 16 << 20;

function readBounded(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    const chunk = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) return Buffer.concat(chunks).toString('utf8');
      total += n;
      if (total > MAX_DOTENV_BYTES) throw new InputError(file, `larger than ${MAX_DOTENV_BYTES} bytes; not a .env file`);
      chunks.push(Buffer.from(chunk.subarray(0, n)));
    }
  } finally {
    closeSync(fd);
  }
}
