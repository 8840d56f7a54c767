import { isUtf8 } from 'node:buffer';
import { InputError } from '../errors.js';

/**
 * A streaming JSON splitter working on bytes. It understands only the outer shape of an export (a top-level
 * array of records, or a top-level object whose values are arrays of records or single values) and hands out
 * each record as a byte slice, so memory holds one record at a time however big the file is. Strings are
 * skipped with Buffer.indexOf, which is what makes it fast; each record is then validated and materialised by
 * JSON.parse.
 */
export interface JsonScanHandler {
  /** The document opened: '[' (records at section null) or '{' (sections). */
  open(kind: 'array' | 'object'): void;
  /** A top-level key whose value is an array: its elements follow as records of that section. */
  sectionStart(section: string): void;
  sectionEnd(section: string): void;
  /** One record (array element) as parsed JSON; `section` is null for a top-level array or NDJSON. */
  record(section: string | null, value: unknown, where: RecordLocation): void;
  /** When present, records are handed over as raw bytes (validated later by the consumer) instead of parsed. */
  rawRecord?(section: string | null, slice: Buffer, where: RecordLocation): void;
  /** A top-level key whose value is not an array. */
  value(section: string, value: unknown, where: RecordLocation): void;
  close(): void;
}

/**
 * Takes whole records out of the structural scan: called at the start of each array element with the bytes
 * read so far; when the record ends in them, it is redacted and written there (one pass over its bytes instead
 * of finding its end first and reading it again).
 */
export interface RecordRewriter {
  /** The index after the record at b[start] if it was taken; a negative number: hand it over as usual. */
  at(section: string | null, b: Buffer, start: number, end: number, line: number, offset: number): number;
  /** Newlines inside the last record taken. */
  readonly lines: number;
  /** Called when the buffer records are read from was replaced: a buffer seen before may hold other bytes now. */
  fresh?(): void;
  /**
   * Optional: takes the records from b[start] on at once, as at() one by one while each is followed by ','
   * and the next '{'. Null: call at() instead.
   */
  run?(section: string | null, b: Buffer, start: number, end: number, line: number, offset: number): RecordRun | null;
}

/** Where a RecordRewriter#run stopped. */
export interface RecordRun {
  /** Records taken. */
  taken: number;
  /** Where it stopped: after the last record taken, or (atRecord) at a record it did not take. */
  end: number;
  /** Newlines before `end`. */
  lines: number;
  atRecord: boolean;
}

export interface RecordLocation {
  line: number;
  offset: number;
}

const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/** Where a scanner starts when it reads one byte range of a file (parallel redaction) instead of the whole. */
export interface ScanResume {
  /** Absolute byte offset of the range's first byte (error offsets stay absolute; lines count from 1). */
  base: number;
  /** The section whose records the range starts in (null: a top-level array), right before a record. */
  section: string | null;
}

const enum S {
  Start,
  TopArrayValueOrEnd,
  TopArrayCommaOrEnd,
  TopObjKeyOrEnd,
  TopObjKey,
  TopObjColon,
  TopObjValue,
  TopObjCommaOrEnd,
  SectionValueOrEnd,
  SectionCommaOrEnd,
  Done,
}

const QUOTE = 0x22;
const BSLASH = 0x5c;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export class JsonScanner {
  private buf: Buffer = Buffer.alloc(0);
  /** Absolute byte offset of buf[0] in the input. */
  private base = 0;
  private pos = 0;
  private line = 1;
  private state = S.Start;
  private section: string | null = null;
  // Resumable value capture: start of the value in buf, scan position, nesting depth, inside a string.
  private vStart = -1;
  private vLine = 0;
  private vDepth = 0;
  private vInStr = false;
  private vLines = 0;
  /** The last structural byte consumed was the ',' between two records of an array. */
  private afterComma = false;

  constructor(
    private readonly file: string,
    private readonly h: JsonScanHandler,
    resume?: ScanResume,
    private readonly rewriter?: RecordRewriter,
  ) {
    if (resume) {
      this.base = resume.base;
      this.section = resume.section;
      this.state = resume.section === null ? S.TopArrayValueOrEnd : S.SectionValueOrEnd;
    }
  }

  /** Line number (1-based, relative to where scanning started) of the next unread byte. */
  get lineNo(): number {
    return this.line;
  }

  /**
   * True when everything pushed so far ends exactly between two records of an array (after the comma and
   * any whitespace), with nothing held back: a range that starts here can be read on its own.
   */
  atRecordBoundary(section: string | null): boolean {
    if (this.vStart >= 0 || this.pos !== this.buf.length || !this.afterComma) return false;
    if (section === null) return this.state === S.TopArrayValueOrEnd;
    return this.state === S.SectionValueOrEnd && this.section === section;
  }

  private err(detail: string, absOffset = this.base + this.pos, line = this.line): InputError {
    return new InputError(this.file, detail, { line, offset: absOffset });
  }

  push(chunk: Buffer): void {
    const keepFrom = this.vStart >= 0 ? this.vStart : this.pos;
    if (keepFrom >= this.buf.length) {
      this.base += this.buf.length;
      this.buf = chunk;
    } else {
      this.base += keepFrom;
      this.buf = this.join(this.buf.subarray(keepFrom), chunk);
    }
    this.rewriter?.fresh?.();
    this.pos = Math.max(0, this.pos - keepFrom);
    if (this.vStart >= 0) {
      this.vCursor -= keepFrom;
      this.vStart = 0;
      this.pos = this.buf.length;
    }
    this.run();
  }

  // The bytes held back (a record cut by the chunk's end) and the next chunk are joined in one of two reused
  // buffers, in turn (the held bytes may sit in the other one), instead of a new buffer the size of a chunk
  // for every chunk: that was ~1 MiB of garbage per MiB read.
  private joins: Buffer[] = [Buffer.alloc(0), Buffer.alloc(0)];
  private joinTurn = 0;
  private join(kept: Buffer, chunk: Buffer): Buffer {
    const n = kept.length + chunk.length;
    this.joinTurn ^= 1;
    let target = this.joins[this.joinTurn]!;
    if (target.length < n) {
      // Grows to the largest join seen (a chunk plus a record): bounded by the chunk size and the record limit.
      target = Buffer.allocUnsafeSlow(Math.max(n, 2 * target.length));
      this.joins[this.joinTurn] = target;
    }
    target.set(kept, 0);
    target.set(chunk, kept.length);
    return target.subarray(0, n);
  }

  end(): void {
    if (this.state !== S.Done) {
      const what = this.vStart >= 0 ? 'a record is cut off' : 'the document is cut off';
      throw this.err(`truncated JSON: ${what} (unexpected end of input)`, this.base + this.buf.length);
    }
  }

  private vCursor = 0;

  private skipWs(): boolean {
    const b = this.buf;
    let p = this.pos;
    while (p < b.length) {
      const c = b[p]!;
      if (c === 0x0a) this.line++;
      else if (!isWs(c)) break;
      p++;
    }
    this.pos = p;
    return p < b.length;
  }

  private run(): void {
    const b = this.buf;
    for (;;) {
      if (this.vStart >= 0) {
        if (!this.captureValue()) return;
        continue;
      }
      if (!this.skipWs()) return;
      const c = b[this.pos]!;
      switch (this.state) {
        case S.Start:
          if (c === 0x5b) {
            this.state = S.TopArrayValueOrEnd;
            this.h.open('array');
          } else if (c === 0x7b) {
            this.state = S.TopObjKeyOrEnd;
            this.h.open('object');
          } else if (c === 0xef && b[this.pos + 1] === 0xbb && b[this.pos + 2] === 0xbf) throw this.err(BOM_DETAIL);
          else throw this.err('expected a JSON object or array at the start of the document');
          this.pos++;
          break;
        case S.TopArrayValueOrEnd:
        case S.SectionValueOrEnd:
          if (c === 0x5d) {
            // Also when the comma and the ']' arrived in different chunks.
            if (this.afterComma) throw this.err("unexpected ']' after ','");
            this.pos++;
            if (this.state === S.TopArrayValueOrEnd) this.finish();
            else {
              this.h.sectionEnd(this.section!);
              this.state = S.TopObjCommaOrEnd;
            }
            break;
          }
          this.beginValue();
          break;
        case S.TopArrayCommaOrEnd:
        case S.SectionCommaOrEnd: {
          const inSection = this.state === S.SectionCommaOrEnd;
          if (c === 0x2c) {
            this.pos++;
            this.afterComma = true;
            this.state = inSection ? S.SectionValueOrEnd : S.TopArrayValueOrEnd;
            // A trailing comma before ']' is not JSON.
            if (this.skipWs() && b[this.pos] === 0x5d) throw this.err("unexpected ']' after ','");
          } else if (c === 0x5d) {
            this.pos++;
            if (inSection) {
              this.h.sectionEnd(this.section!);
              this.state = S.TopObjCommaOrEnd;
            } else this.finish();
          } else throw this.err(`expected ',' or ']' but found ${describe(c)}`);
          break;
        }
        case S.TopObjKeyOrEnd:
          if (c === 0x7d) {
            this.pos++;
            this.finish();
            break;
          }
          this.state = S.TopObjKey;
          break;
        case S.TopObjKey: {
          if (c !== QUOTE) throw this.err(`expected a key string but found ${describe(c)}`);
          const end = findStringEnd(b, this.pos + 1);
          if (end < 0) return; // wait for more
          const raw = b.subarray(this.pos, end + 1);
          let key: string;
          try {
            if (!isUtf8(raw)) throw new Error('invalid UTF-8');
            key = JSON.parse(raw.toString('utf8')) as string;
          } catch (e) {
            throw this.err(`bad key: ${(e as Error).message}`);
          }
          this.section = key;
          this.pos = end + 1;
          this.state = S.TopObjColon;
          break;
        }
        case S.TopObjColon:
          if (c !== 0x3a) throw this.err(`expected ':' but found ${describe(c)}`);
          this.pos++;
          this.state = S.TopObjValue;
          break;
        case S.TopObjValue:
          if (c === 0x5b) {
            this.pos++;
            this.state = S.SectionValueOrEnd;
            this.h.sectionStart(this.section!);
          } else this.beginValue();
          break;
        case S.TopObjCommaOrEnd:
          if (c === 0x2c) {
            this.pos++;
            this.state = S.TopObjKey;
          } else if (c === 0x7d) {
            this.pos++;
            this.finish();
          } else throw this.err(`expected ',' or '}' but found ${describe(c)}`);
          break;
        case S.Done:
          throw this.err(`unexpected data after the end of the JSON document: ${describe(c)}`);
      }
    }
  }

  private finish(): void {
    this.state = S.Done;
    this.h.close();
  }

  private beginValue(): void {
    this.afterComma = false;
    this.vStart = this.pos;
    this.vCursor = this.pos;
    this.vLine = this.line;
    this.vDepth = 0;
    this.vInStr = false;
    this.vLines = 0;
  }

  /** Advances the capture of one value; returns false when more input is needed. */
  private captureValue(): boolean {
    if (this.vCursor === this.vStart && this.rewriter && this.state !== S.TopObjValue && this.rewriteRun()) return true;
    const b = this.buf;
    const n = b.length;
    let p = this.vCursor;
    let depth = this.vDepth;
    let lines = this.vLines;
    let done = false;
    if (this.vInStr) {
      const e = findStringEnd(b, p);
      if (e < 0) return this.suspend(p, depth, lines, true);
      p = e + 1;
      if (depth === 0) done = true;
    }
    while (!done && p < n) {
      const c = b[p]!;
      if (c === QUOTE) {
        const e = findStringEnd(b, p + 1);
        if (e < 0) return this.suspend(p + 1, depth, lines, true);
        p = e + 1;
        if (depth === 0) done = true;
      } else if (c === 0x7b || c === 0x5b) {
        depth++;
        p++;
      } else if (c === 0x7d || c === 0x5d) {
        if (depth === 0) {
          // The end of a scalar value, which closes the enclosing array/object.
          done = true;
          break;
        }
        depth--;
        p++;
        if (depth === 0) done = true;
      } else if (depth === 0 && (c === 0x2c || isWs(c))) {
        done = true;
      } else {
        if (c === 0x0a) lines++;
        p++;
      }
    }
    if (!done) {
      if (p - this.vStart > MAX_RECORD_BYTES) throw this.err(`a record is larger than ${MAX_RECORD_BYTES} bytes`, this.base + this.vStart, this.vLine);
      return this.suspend(p, depth, lines, false);
    }
    const start = this.vStart;
    this.vStart = -1;
    this.pos = p;
    const line = this.vLine;
    this.line += lines;
    this.emit(start, p, line);
    return true;
  }

  /**
   * Hands the records starting at vStart to the rewriter, one after another while each is followed by ',' and
   * the next '{' in the bytes read (no trip through the state machine between two records). True when the
   * scan goes on after the last record taken; false when the record at vStart (possibly a later one than at
   * the call) is to be captured as usual.
   */
  private rewriteRun(): boolean {
    const rw = this.rewriter!;
    const b = this.buf;
    const n = b.length;
    const inSection = this.state === S.SectionValueOrEnd;
    const section = inSection ? this.section : null;
    const run = rw.run ? rw.run(section, b, this.vStart, n, this.line, this.base + this.vStart) : null;
    if (run) {
      this.line += run.lines;
      if (!run.atRecord) return this.afterRecords(run.end, inSection);
      // The record at run.end is read as usual.
      if (run.taken > 0) this.recordBegun(run.end);
      return false;
    }
    for (;;) {
      const start = this.vStart;
      const e = rw.at(section, b, start, n, this.line, this.base + start);
      if (e <= 0) return false;
      this.line += rw.lines;
      // The common case: ",\n  {" right after the record.
      this.wsLines = 0;
      let p = this.wsAt(b, e);
      let next = -1;
      if (p < n && b[p] === 0x2c) {
        p = this.wsAt(b, p + 1);
        if (p < n && b[p] === 0x7b) next = p;
      }
      const lines = this.wsLines;
      if (next < 0) return this.afterRecords(e, inSection);
      this.line += lines;
      this.recordBegun(next);
    }
  }

  /**
   * After the last record taken, which ends at `at`: the state machine reads on from there (a comma not followed
   * by a record, the array's end, the end of the bytes read).
   */
  private afterRecords(at: number, inSection: boolean): true {
    this.vStart = -1;
    this.pos = at;
    this.state = inSection ? S.SectionCommaOrEnd : S.TopArrayCommaOrEnd;
    return true;
  }

  /** As if the ',' before the record at `at` had been read and the record begun. */
  private recordBegun(at: number): void {
    this.vStart = at;
    this.vCursor = at;
    this.vLine = this.line;
    this.vDepth = 0;
    this.vInStr = false;
    this.vLines = 0;
    this.afterComma = false;
  }

  private wsLines = 0;
  /** The first byte at or after p that is not whitespace; newlines passed are added to wsLines. */
  private wsAt(b: Buffer, p: number): number {
    for (;;) {
      const c = b[p];
      if (c === 0x20 || c === 0x09 || c === 0x0d) p++;
      else if (c === 0x0a) {
        this.wsLines++;
        p++;
      } else return p;
    }
  }

  private suspend(p: number, depth: number, lines: number, inStr: boolean): boolean {
    if (p - this.vStart > MAX_RECORD_BYTES) throw this.err(`a record is larger than ${MAX_RECORD_BYTES} bytes`, this.base + this.vStart, this.vLine);
    // Inside a string, p is the first content byte: findStringEnd restarts from there.
    this.vCursor = p;
    this.vDepth = depth;
    this.vLines = lines;
    this.vInStr = inStr;
    this.pos = this.buf.length;
    return false;
  }

  private emit(start: number, end: number, line: number): void {
    const slice = this.buf.subarray(start, end);
    const offset = this.base + start;
    const where = { line, offset };
    if (this.h.rawRecord && this.state !== S.TopObjValue) {
      this.h.rawRecord(this.state === S.SectionValueOrEnd ? this.section : null, slice, where);
      this.state = this.state === S.SectionValueOrEnd ? S.SectionCommaOrEnd : S.TopArrayCommaOrEnd;
      return;
    }
    const value = parseJsonSlice(slice, this.file, line, offset);
    if (this.state === S.TopObjValue) {
      this.h.value(this.section!, value, where);
      this.state = S.TopObjCommaOrEnd;
    } else if (this.state === S.SectionValueOrEnd) {
      this.h.record(this.section, value, where);
      this.state = S.SectionCommaOrEnd;
    } else {
      this.h.record(null, value, where);
      this.state = S.TopArrayCommaOrEnd;
    }
  }
}

/** Invisible in an editor, so named: JSON text must not start with one (RFC 8259 §8.1). */
const BOM_DETAIL = 'a UTF-8 byte order mark (BOM) before the JSON; JSON text must not start with one (RFC 8259 §8.1): remove the first 3 bytes';

/** Parses one JSON value held in bytes; errors name the file, line and byte offset. */
export function parseJsonSlice(slice: Buffer, file: string, line: number, offset: number): unknown {
  if (!isUtf8(slice)) {
    const bad = firstInvalidUtf8(slice);
    const lineOf = line + countNewlines(slice, bad);
    throw new InputError(file, 'invalid UTF-8', { line: lineOf, offset: offset + bad });
  }
  const text = slice.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    if (slice[0] === 0xef && slice[1] === 0xbb && slice[2] === 0xbf) throw new InputError(file, BOM_DETAIL, { line, offset });
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    const charPos = m ? Number(m[1]) : 0;
    const bytePos = Buffer.byteLength(text.slice(0, charPos));
    // V8 quotes the surrounding text ('..."otes": tru\n  }" is not valid JSON'): that text is the export's
    // data, so it never goes into the message; control characters are named, so the error stays one line.
    const detail = msg
      .replace(/^[\s\S]*?(Unexpected|Expected|Bad|Unterminated)/, '$1')
      .replace(/ in JSON at position \d+[\s\S]*$/, '')
      .replace(/,\s*(?:\.\.\.)?"[\s\S]*$/, '')
      .replace(/[\u0000-\u001f]/g, (c) => JSON.stringify(c).slice(1, -1));
    throw new InputError(file, `malformed JSON: ${detail}`, { line: line + countNewlines(slice, bytePos), offset: offset + bytePos });
  }
}

/** Index of the closing quote of a string whose content starts at `from`, or -1 if not in the buffer. */
export function findStringEnd(b: Buffer, from: number): number {
  let p = from;
  for (;;) {
    const q = b.indexOf(QUOTE, p);
    if (q < 0) return -1;
    let bs = 0;
    for (let k = q - 1; k >= from && b[k] === BSLASH; k--) bs++;
    if ((bs & 1) === 0) return q;
    p = q + 1;
  }
}

export function countNewlines(b: Buffer, end = b.length): number {
  let n = 0;
  let p = b.indexOf(0x0a);
  while (p >= 0 && p < end) {
    n++;
    p = b.indexOf(0x0a, p + 1);
  }
  return n;
}

/** Byte index of the first invalid UTF-8 sequence (slow path, only on error). */
export function firstInvalidUtf8(b: Buffer): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let n = 0;
    if (c < 0x80) n = 0;
    else if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) n = 2;
    else if (c >= 0xf0 && c <= 0xf4) n = 3;
    else return i;
    if (i + n >= b.length && n > 0) return i;
    for (let k = 1; k <= n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i;
    if (n > 0 && !isUtf8(b.subarray(i, i + n + 1))) return i;
    i += n + 1;
  }
  return b.length;
}

function describe(c: number): string {
  return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`;
}
