import { InputError } from '../errors.js';
import { Slot, ValueTable } from './byte-table.js';
import { MemoryView } from './byte-out.js';

// A byte-level RFC 4180 record splitter, used instead of csv-parse on the redaction hot path: csv-parse
// manages ~10 MB per CPU-second, and redaction parses the file twice (roster pre-pass + real pass). This one
// splits on bytes (every delimiter is ASCII, so multi-byte UTF-8 never confuses it) and only decodes the
// fields the caller asks for. It follows csv-parse's reading with { bom: true, skip_empty_lines: true,
// relax_column_count: false }: the record delimiter is discovered from the first one seen (\r\n, \n or \r),
// quotes open a field only at its start, "" inside quotes is one quote, anything but a delimiter after a
// closing quote is an error, and every record has the first record's field count. test/redact/csv.test.ts
// checks it against csv-parse on random input.

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const MAX_RECORD_BYTES = 64 * 1024 * 1024;
/** 1 for the bytes that end or break an unquoted field: comma, quote, CR, LF. */
const SPECIAL = new Uint8Array(256);
for (const c of [COMMA, QUOTE, CR, LF]) SPECIAL[c] = 1;

export interface CsvRowLocation {
  /** 1-based line where the record starts. */
  line: number;
  /** Byte offset of the record's first byte in the input. */
  offset: number;
}

const NEED_MORE = -1;

export interface CsvDialect {
  width: number;
  /** Record delimiter: 1 \n, 2 \r\n, 3 \r. */
  rd: 1 | 2 | 3;
}

export class CsvSplitter {
  private buf: Buffer = Buffer.alloc(0);
  private base = 0;
  private line = 1;
  private started = false;
  private rd: 0 | 1 | 2 | 3 = 0; // 0 unknown, 1 \n, 2 \r\n, 3 \r
  private width = -1;

  constructor(
    private readonly file: string,
    private readonly onRow: (fields: string[], where: CsvRowLocation) => void,
    /** When given, only the fields whose index is true are decoded; the others are ''. */
    private want: boolean[] | null = null,
  ) {}

  /**
   * Starts in the middle of a file (parallel redaction): at absolute offset `base`, at the start of a record,
   * with the header's field count and the record delimiter already known. Lines count from 1 from there.
   */
  resumeAt(base: number, dialect: CsvDialect): void {
    this.base = base;
    this.started = true;
    this.headerSeen = true;
    this.width = dialect.width;
    this.rd = dialect.rd;
  }

  /** Field count and record delimiter, once the first record was read (for ranges read elsewhere). */
  dialect(): CsvDialect | null {
    return this.width < 0 || this.rd === 0 ? null : { width: this.width, rd: this.rd };
  }

  get lineNo(): number {
    return this.line;
  }

  /** True when the bytes pushed so far end exactly after a record's delimiter, nothing held back. */
  atRecordBoundary(): boolean {
    return this.started && this.buf.length === 0;
  }

  /** Changes which fields are decoded (e.g. after the header row was seen). */
  setWanted(want: boolean[] | null): void {
    this.want = want;
  }

  push(chunk: Buffer): void {
    if (this.buf.length === 0) {
      this.consume(chunk, false);
      return;
    }
    // A record straddles the chunk boundary. Finish it on the carried bytes plus the head of the new chunk,
    // rather than joining the whole (1 MiB) chunk: a full copy per chunk left tens of MB of dead buffers
    // waiting for the GC, which showed in peak RSS.
    const carry = this.buf;
    const joined = Buffer.concat([carry, chunk.subarray(0, Math.min(chunk.length, 64 * 1024))]);
    const p = this.scan(joined, false, carry.length);
    this.base += p;
    if (p >= carry.length) {
      this.buf = Buffer.alloc(0);
      this.consume(chunk.subarray(p - carry.length), false);
    } else this.consume(Buffer.concat([carry.subarray(p), chunk]), false); // a record longer than 64 KiB
  }

  end(): void {
    this.consume(this.buf, true);
    this.buf = Buffer.alloc(0);
  }

  private err(detail: string, line: number, offset: number): InputError {
    return new InputError(this.file, `malformed CSV: ${detail}`, { line, offset });
  }

  private consume(b: Buffer, final: boolean): void {
    const p = this.scan(b, final, Infinity);
    this.base += p;
    this.buf = p >= b.length ? Buffer.alloc(0) : b.subarray(p);
    if (this.buf.length > MAX_RECORD_BYTES) throw this.err(`a record is longer than ${MAX_RECORD_BYTES} bytes`, this.line, this.base);
    if (final && this.buf.length) throw this.err('unexpected end of input', this.line, this.base);
  }

  /** Reads records from b (b[0] is at this.base) until more input is needed or `stopAt` is reached; returns the bytes consumed. */
  private scan(b: Buffer, final: boolean, stopAt: number): number {
    let p = 0;
    if (!this.started) {
      if (b.length < 3 && !final) return 0;
      this.started = true;
      if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) p = 3;
    }
    while (p < b.length && p < stopAt) {
      // An empty line (a record delimiter at the start of a record) is skipped.
      const skip = this.delimiterAt(b, p, final);
      if (skip === NEED_MORE) break;
      if (skip > 0) {
        p += skip;
        this.line++;
        continue;
      }
      const e = this.record(b, p, final);
      if (e === NEED_MORE) break;
      p = e;
    }
    return p;
  }

  /** Length of the record delimiter at p (0 when none), or NEED_MORE. Discovers the delimiter on first sight. */
  private delimiterAt(b: Buffer, p: number, final: boolean): number {
    const c = b[p];
    if (c !== LF && c !== CR) return 0;
    if (this.rd === 0) {
      if (c === LF) this.rd = 1;
      else {
        if (p + 1 >= b.length && !final) return NEED_MORE;
        this.rd = b[p + 1] === LF ? 2 : 3;
      }
    }
    if (this.rd === 1) return c === LF ? 1 : 0;
    if (this.rd === 3) return c === CR ? 1 : 0;
    if (c !== CR) return 0;
    if (p + 1 >= b.length) return final ? 0 : NEED_MORE;
    return b[p + 1] === LF ? 2 : 0;
  }

  /**
   * Sets a handler that gets each record (after the first, the header, which still goes to onRow) as the raw
   * bounds of its fields: [s0, e0, s1, e1, ...] into `b`, a quoted field's bounds including its quotes.
   * Nothing is decoded (see csv-rewriter.ts). `b` and `bounds` are valid during the call only. With
   * `lastField`, only fields up to that index are read (see skipRest); takes effect once the header was read.
   */
  setRawHandler(handler: RawRowHandler | null, lastField = Infinity): void {
    this.raw = handler;
    this.lastField = handler !== null && this.rd !== 0 && this.width > 0 ? lastField : Infinity;
  }
  private raw: RawRowHandler | null = null;
  /**
   * With a raw handler: the fields after this index are not wanted, so they are not split or checked (the
   * roster pre-pass reads one or two columns; the redaction pass reads every byte again and names any error).
   */
  private lastField = Infinity;

  /** The value of the field at bounds [s, e) as onRow gives it (idx: its column). */
  private decode(b: Buffer, s: number, e: number, idx: number): string {
    if (this.want !== null && this.want[idx] !== true) return '';
    if (s === e) return '';
    if (b[s] === QUOTE) return unquote(b, s, e);
    // A column's values repeat row after row (people, roles, periods): the string decoded for the same bytes
    // before is handed out again, found by a hash of the bytes (the input is valid UTF-8, checked before
    // splitting, so the same bytes always decode to the same string). That also lets the engine's caches
    // find it by a hash already computed.
    const col = (this.columns[idx] ??= { table: new ValueTable(), strings: [], generation: 0 });
    const t = col.table;
    this.mem.see(b);
    const from = this.mem.off + s;
    const to = this.mem.off + e;
    const i = t.lookup(this.mem.view, from, to, -1);
    if (i >= 0 && col.generation === t.generation) return col.strings[t.slots[i + Slot.OutOff]!]!;
    const v = utf8(b, s, e);
    if (i >= 0) return v;
    const slot = t.insert(b, s, e, t.hashed);
    if (slot >= 0) {
      if (col.generation !== t.generation) {
        col.strings = [];
        col.generation = t.generation;
      }
      t.slots[slot + Slot.OutOff] = col.strings.length;
      col.strings.push(v);
    }
    return v;
  }

  private readonly mem = new MemoryView();
  /** Per column: decoded values by their bytes (see decode). */
  private readonly columns: { table: ValueTable; strings: string[]; generation: number }[] = [];

  /** Raw bounds of the fields of the record being read (see setRawHandler). */
  private bounds = new Int32Array(64);

  /** Notes field `k`'s raw bounds. */
  private field(k: number, s: number, e: number): void {
    if (2 * k + 2 > this.bounds.length) {
      const grown = new Int32Array(this.bounds.length * 2);
      grown.set(this.bounds);
      this.bounds = grown;
    }
    this.bounds[2 * k] = s;
    this.bounds[2 * k + 1] = e;
  }

  /** Reads one record from p; returns the position after its delimiter, or NEED_MORE. */
  private record(b: Buffer, start: number, final: boolean): number {
    const n = b.length;
    let k = 0;
    let lines = 0;
    let p = start;
    for (;;) {
      if (p < n && b[p] === QUOTE) {
        const open = p;
        let q = p + 1;
        for (;;) {
          const j = b.indexOf(QUOTE, q);
          if (j < 0) {
            if (!final) return NEED_MORE;
            throw this.err('a quoted field is not closed before the end of the input', this.line + lines + countLf(b, start, open), this.base + open);
          }
          if (j + 1 >= n && !final) return NEED_MORE;
          if (b[j + 1] === QUOTE) {
            q = j + 2;
            continue;
          }
          lines += countLf(b, open, j);
          p = j + 1;
          break;
        }
        this.field(k++, open, p);
        if (p >= n) {
          if (!final) return NEED_MORE;
          return this.emit(b, k, start, lines, p);
        }
        const c = b[p];
        if (c === COMMA) {
          p++;
          if (k > this.lastField) return this.skipRest(b, k, start, lines, p, final);
          continue;
        }
        const d = this.delimiterAt(b, p, final);
        if (d === NEED_MORE) return NEED_MORE;
        if (d > 0) return this.emit(b, k, start, lines, p + d);
        throw this.err(`unexpected ${describe(c!)} after a closing quote`, this.line + lines, this.base + p);
      }
      // Unquoted field: up to the next comma or record delimiter; a quote inside it is an error.
      let e = p;
      for (;;) {
        // Ordinary bytes in one test each (most of a file).
        while (e < n && SPECIAL[b[e]!] === 0) e++;
        if (e >= n) {
          if (!final) return NEED_MORE;
          this.field(k++, p, e);
          return this.emit(b, k, start, lines, e);
        }
        const c = b[e]!;
        if (c === COMMA) break;
        if (c === QUOTE) throw this.err('a quote inside an unquoted field', this.line + lines, this.base + e);
        if (c === LF || c === CR) {
          const d = this.delimiterAt(b, e, final);
          if (d === NEED_MORE) return NEED_MORE;
          if (d > 0) {
            this.field(k++, p, e);
            return this.emit(b, k, start, lines, e + d);
          }
          if (c === LF) lines++;
        }
        e++;
      }
      this.field(k++, p, e);
      p = e + 1;
      if (k > this.lastField) return this.skipRest(b, k, start, lines, p, final);
    }
  }

  /**
   * Finishes a record whose fields after the `k` read are not wanted (see setRawHandler), from p (after a
   * comma): it ends at the first record delimiter outside quotes. In well-formed CSV quotes pair up, so the
   * parity of the quotes before a delimiter tells whether it is inside a quoted field. Nothing after p is
   * checked: a full read of the same bytes names any error there. Returns as record() does.
   */
  private skipRest(b: Buffer, k: number, start: number, lines: number, p: number, final: boolean): number {
    const rd = this.rd;
    const d = rd === 3 ? CR : LF;
    let quote = b.indexOf(QUOTE, p);
    let inQuotes = false;
    let from = p;
    for (;;) {
      const x = b.indexOf(d, from);
      if (x < 0) {
        if (!final) return NEED_MORE;
        return this.emitSkipped(b, k, start, lines + countLf(b, p, b.length), b.length);
      }
      while (quote >= 0 && quote < x) {
        inQuotes = !inQuotes;
        quote = b.indexOf(QUOTE, quote + 1);
      }
      // \r\n records: a lone \n is field content.
      if (!inQuotes && (rd !== 2 || (x > p && b[x - 1] === CR))) {
        const end = rd === 2 ? x - 1 : x;
        return this.emitSkipped(b, k, start, lines + countLf(b, p, end), x + 1);
      }
      from = x + 1;
    }
  }

  private emitSkipped(b: Buffer, k: number, start: number, lines: number, next: number): number {
    const where = { line: this.line, offset: this.base + start };
    this.line += lines + 1;
    this.raw!(b, this.bounds, k, where);
    return next;
  }

  private emit(b: Buffer, count: number, start: number, lines: number, next: number): number {
    const where = { line: this.line, offset: this.base + start };
    if (this.width < 0) this.width = count;
    else if (count !== this.width) throw this.err(`wrong number of fields: expected ${this.width}, got ${count}`, where.line, where.offset);
    this.line += lines + 1;
    if (this.raw !== null && this.headerSeen) {
      this.raw(b, this.bounds, count, where);
      return next;
    }
    this.headerSeen = true;
    const fields: string[] = new Array(count);
    const bounds = this.bounds;
    for (let i = 0; i < count; i++) fields[i] = this.decode(b, bounds[2 * i]!, bounds[2 * i + 1]!, i);
    this.onRow(fields, where);
    return next;
  }
  /** The first record (the header, unless resumeAt) went to onRow. */
  private headerSeen = false;
}

/** Gets a record's raw field bounds (see CsvSplitter#setRawHandler). */
export type RawRowHandler = (b: Buffer, bounds: Int32Array, count: number, where: CsvRowLocation) => void;

/** The value of the quoted field b[s, e) (both quotes included): "" inside is one quote. */
export function unquote(b: Buffer, s: number, e: number): string {
  let value = '';
  let from = s + 1;
  const end = e - 1;
  for (let j = b.indexOf(QUOTE, from); j >= 0 && j < end; j = b.indexOf(QUOTE, from)) {
    value += utf8(b, from, j + 1);
    from = j + 2;
  }
  return from < end ? value + utf8(b, from, end) : value;
}

// Buffer#toString(enc, s, e) goes through argument checks and an encoding switch per call; on millions of
// short fields that wrapper cost as much as the decoding. utf8Slice is the native method it ends in.
const nativeUtf8 = (Buffer.prototype as unknown as { utf8Slice?: (s: number, e: number) => string }).utf8Slice;
export function utf8(b: Buffer, s: number, e: number): string {
  return nativeUtf8 ? nativeUtf8.call(b, s, e) : b.toString('utf8', s, e);
}

function countLf(b: Buffer, s: number, e: number): number {
  let n = 0;
  for (let i = b.indexOf(LF, s); i >= 0 && i < e; i = b.indexOf(LF, i + 1)) n++;
  return n;
}

function describe(c: number): string {
  return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`;
}
