import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';
import { createRequire } from 'node:module';
import type { Parser as CsvParser } from 'csv-parse';
import { InputError, UsageError } from '../errors.js';
import { firstInvalidUtf8, countNewlines, parseJsonSlice } from './json-scanner.js';

export type RedactFormat = 'json' | 'ndjson' | 'csv';
export const FORMATS: RedactFormat[] = ['json', 'ndjson', 'csv'];

/** From a file name's extension, or null. */
export function formatFromName(name: string | undefined): RedactFormat | null {
  if (!name) return null;
  const n = name.toLowerCase();
  if (n.endsWith('.ndjson') || n.endsWith('.jsonl')) return 'ndjson';
  if (n.endsWith('.json')) return 'json';
  if (n.endsWith('.csv')) return 'csv';
  return null;
}

/**
 * From the first bytes: '[' is JSON; '{' is NDJSON when the first line is a complete value followed by more
 * lines starting with '{', else JSON; a first line with commas and no braces is CSV. Otherwise null.
 */
export function sniffFormat(head: Buffer): RedactFormat | null {
  let i = 0;
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) i = 3;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x0a || head[i] === 0x0d || head[i] === 0x09)) i++;
  if (i >= head.length) return null;
  const c = head[i];
  if (c === 0x5b) return 'json';
  if (c === 0x7b) {
    const nl = head.indexOf(0x0a, i);
    if (nl < 0) return 'json';
    try {
      JSON.parse(head.subarray(i, nl).toString('utf8'));
    } catch {
      return 'json';
    }
    let j = nl + 1;
    while (j < head.length && (head[j] === 0x20 || head[j] === 0x0a || head[j] === 0x0d || head[j] === 0x09)) j++;
    return j >= head.length || head[j] === 0x7b ? 'ndjson' : 'json';
  }
  const nl = head.indexOf(0x0a, i);
  const first = head.subarray(i, nl < 0 ? head.length : nl).toString('utf8');
  if (first.includes(',') && !/[{}]/.test(first[0] ?? '')) return 'csv';
  return null;
}

export function requireFormat(f: string | undefined): RedactFormat | undefined {
  if (f === undefined) return undefined;
  if (!FORMATS.includes(f as RedactFormat)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')} (got ${f})`);
  return f as RedactFormat;
}

/** Splits NDJSON into parsed values with line and byte offset; blank lines are skipped. */
export class NdjsonSplitter {
  private rest: Buffer = Buffer.alloc(0);
  private base = 0;
  private line = 1;
  constructor(
    private readonly file: string,
    private readonly onRecord: (value: unknown, where: { line: number; offset: number }) => void,
    /** When given, lines are handed over as raw bytes instead of parsed. */
    private readonly onRaw?: (slice: Buffer, where: { line: number; offset: number }) => void,
    /** Absolute offset of the first byte pushed (a range of a file); lines still count from 1. */
    base = 0,
  ) {
    this.base = base;
  }

  get lineNo(): number {
    return this.line;
  }

  /** True when the bytes pushed so far end with a complete line. */
  atRecordBoundary(): boolean {
    return this.rest.length === 0;
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    let nl = buf.indexOf(0x0a);
    if (this.rest.length) {
      // Only the line cut by the last chunk's end is joined (not the whole chunk): one record's bytes.
      if (nl < 0) {
        this.rest = Buffer.concat([this.rest, chunk]);
        this.checkRest();
        return;
      }
      const first = Buffer.concat([this.rest, chunk.subarray(0, nl)]);
      this.emit(first, 0, first.length);
      this.base += this.rest.length;
      this.rest = Buffer.alloc(0);
      buf = chunk;
    } else if (nl >= 0) {
      this.emit(buf, 0, nl);
    }
    let start = nl + 1;
    if (nl < 0) start = 0;
    else nl = buf.indexOf(0x0a, start);
    while (nl >= 0) {
      this.emit(buf, start, nl);
      start = nl + 1;
      nl = buf.indexOf(0x0a, start);
    }
    this.base += start;
    this.rest = start < buf.length ? Buffer.from(buf.subarray(start)) : Buffer.alloc(0);
    this.checkRest();
  }

  private checkRest(): void {
    if (this.rest.length > 64 * 1024 * 1024) throw new InputError(this.file, 'a line is longer than 64 MiB', { line: this.line, offset: this.base });
  }

  end(): void {
    if (this.rest.length) this.emit(this.rest, 0, this.rest.length);
    this.rest = Buffer.alloc(0);
  }

  private emit(buf: Buffer, s: number, e: number): void {
    const line = this.line++;
    const offset = this.base + s;
    let a = s;
    let b = e;
    while (a < b && (buf[a] === 0x20 || buf[a] === 0x09 || buf[a] === 0x0d)) a++;
    while (b > a && (buf[b - 1] === 0x20 || buf[b - 1] === 0x09 || buf[b - 1] === 0x0d)) b--;
    if (a === b) return;
    if (this.onRaw) this.onRaw(buf.subarray(a, b), { line, offset: offset + (a - s) });
    else this.onRecord(parseJsonSlice(buf.subarray(a, b), this.file, line, offset + (a - s)), { line, offset });
  }
}

/** Passes bytes through, failing with file/line/offset at the first invalid UTF-8 sequence. */
export class Utf8Validator extends Transform {
  private carry: Buffer = Buffer.alloc(0);
  private base = 0;
  private lines = 1;
  constructor(
    private readonly file: string,
    /** Absolute offset of the first byte checked (a range of a file). */
    base = 0,
  ) {
    super();
    this.base = base;
  }
  /** Validates the next chunk synchronously: returns the bytes that are complete characters, or throws. */
  check(chunk: Buffer): Buffer {
    const buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    // Hold back an incomplete multi-byte sequence at the end for the next chunk.
    let cut = buf.length;
    for (let k = 1; k <= 3 && buf.length - k >= 0; k++) {
      const c = buf[buf.length - k]!;
      if ((c & 0xc0) === 0x80) continue;
      const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
      if (need > k) cut = buf.length - k;
      break;
    }
    const body = buf.subarray(0, cut);
    if (!isUtf8(body)) {
      const bad = firstInvalidUtf8(body);
      throw new InputError(this.file, 'invalid UTF-8', { line: this.lines + countNewlines(body, bad), offset: this.base + bad });
    }
    this.lines += countNewlines(body);
    this.base += body.length;
    this.carry = cut < buf.length ? Buffer.from(buf.subarray(cut)) : Buffer.alloc(0);
    return body;
  }
  /** Bytes of an incomplete multi-byte sequence are held back for the next chunk. */
  get holding(): boolean {
    return this.carry.length > 0;
  }
  /** Throws when the input ended inside a multi-byte sequence. */
  checkEnd(): void {
    if (this.carry.length) throw new InputError(this.file, 'invalid UTF-8 (truncated multi-byte sequence at end of input)', { line: this.lines, offset: this.base });
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    let body: Buffer;
    try {
      body = this.check(chunk);
    } catch (e) {
      cb(e as Error);
      return;
    }
    cb(null, body);
  }
  override _flush(cb: TransformCallback): void {
    try {
      this.checkEnd();
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }
}

/** csv-parse configured strictly (quoting errors are errors), yielding arrays with line info. */
export function csvParser(info = true): CsvParser {
  // Loaded on first use: redaction threads never parse with it, and it costs each of them start-up time.
  const { Parser } = createRequire(import.meta.url)('csv-parse') as typeof import('csv-parse');
  return new Parser({ bom: true, info, skip_empty_lines: true, relax_column_count: false });
}

/** csv-parse errors as InputError with file, line and byte offset. */
export function csvInputError(file: string, e: unknown): InputError | unknown {
  const err = e as { code?: string; message?: string; lines?: number; info?: { bytes?: number; lines?: number }; bytes?: number };
  if (!err || typeof err.code !== 'string' || !err.code.startsWith('CSV_')) return e;
  const detail = (err.message ?? 'bad CSV').replace(/^Invalid Record Length: /, 'wrong number of fields: ').replace(/,? ?at line \d+.*$/, '');
  return new InputError(file, `malformed CSV: ${detail}`, { line: err.lines ?? err.info?.lines, offset: err.bytes ?? err.info?.bytes });
}

/** RFC 4180 quoting: only fields containing a comma, quote, CR or LF are quoted. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
