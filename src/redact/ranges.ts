import { isUtf8 } from 'node:buffer';
import { InputError } from '../errors.js';
import { readSync } from 'node:fs';
import { CsvSplitter, unquote, utf8, type CsvDialect, type RawRowHandler } from './csv-splitter.js';
import { ValueTable } from './byte-table.js';
import { MemoryView } from './byte-out.js';
import { DROP, type RecordRedactor } from './engine.js';
import { NdjsonSplitter, Utf8Validator, type RedactFormat } from './formats.js';
import { JsonScanner, parseJsonSlice, type ScanResume } from './json-scanner.js';
import { RosterWalker } from './roster-walker.js';
import type { OutSink } from './byte-out.js';
import { CsvOutput, JsonOutput, recordRewriter, redactParsedRecord, redactTopValueText, writeRawRecord } from './redactor.js';

// One byte range of an export, read on its own: the unit of parallel redaction. A range either starts at the
// beginning of the file or right before a record; the scanner it runs tells, at the range's end, whether it
// stopped exactly between two records (so the next range's guessed start was right).

export type RangeMode = 'roster' | 'redact';

/** Where a range starts when it is not the beginning of the file. */
export interface RangeStart {
  /** Absolute byte offset of the range's first byte. */
  base: number;
  /** JSON: the section whose records the range starts in (null: a top-level array). */
  section: string | null;
  /** JSON: whether the document is a top-level array or an object of sections. */
  kind: 'array' | 'object';
  /** CSV: the header (read from the first range) and the dialect. */
  csv?: { header: string[]; dialect: CsvDialect };
}

export interface RangeScanner {
  push(chunk: Buffer): void;
  /** The input ends here (the last range). */
  end(): void;
  /** True when the bytes pushed so far end right before a record of `section` (JSON) or a row/line. */
  atRecordBoundary(section: string | null): boolean;
  /** 1-based line of the next unread byte, counted from the range's first byte. */
  readonly lineNo: number;
}

/** The scanner that fills the roster from the fields of roster rules; nothing is written. */
export function rosterScanner(engine: RecordRedactor, format: RedactFormat, start: RangeStart | null = null, options: { walker?: boolean; wasm?: boolean } = {}): RangeScanner {
  const file = engine.report.source;
  if (format === 'csv') {
    const cols = new Map(engine.rosterRules().map((r) => [r.path, r]));
    let header: string[] | null = null;
    let rosterIdx: number[] = [];
    const useHeader = (h: string[]): void => {
      header = h;
      rosterIdx = h.map((name, i) => (cols.has(name) ? i : -1)).filter((i) => i >= 0);
      const want = h.map(() => false);
      for (const i of rosterIdx) want[i] = true;
      splitter.setWanted(want);
      // Column by column on the raw bytes: each distinct value is decoded and collected once. Not when a
      // roster column's name is integer-like: a row object enumerates those first, which sets the roster order.
      if (engine.bytePathEnabled && !rosterIdx.some((i) => /^(?:0|[1-9]\d*)$/.test(h[i]!))) splitter.setRawHandler(rosterColumns(engine, h, rosterIdx), Math.max(-1, ...rosterIdx));
    };
    // Only the roster columns are decoded; every other field is skipped at byte level.
    const splitter: CsvSplitter = new CsvSplitter(file, (record) => {
      if (!header) return useHeader(record);
      // Through the per-rule cache: each distinct person costs one HMAC and one roster entry.
      const row: Record<string, string> = {};
      for (const i of rosterIdx) row[header[i]!] = record[i]!;
      engine.collectRoster(row, null);
    });
    if (start?.csv) {
      splitter.resumeAt(start.base, start.csv.dialect);
      useHeader(start.csv.header);
    }
    return quietOnBadInput(csvScanner(splitter, new Utf8Validator(file, start?.base ?? 0)));
  }
  // JSON/NDJSON: the structural scan of the real pass, but only the roster fields are looked at.
  const collect = (section: string | null, value: unknown, single = false): void => engine.collectRoster(value, section, single);
  const raw = (section: string | null, slice: Buffer, where: { line: number; offset: number }): void => {
    // Records as text: the roster fields are picked out without building objects.
    if (isUtf8(slice) && engine.collectRosterText(slice.toString('utf8'), section)) return;
    collect(section, parseJsonSlice(slice, file, where.line, where.offset));
  };
  if (format === 'ndjson') {
    // Each line is a whole record: the roster walker first, when it reads the line to its end.
    const walker = options.walker === false ? null : new RosterWalker(engine, { wasm: options.wasm });
    const line = (slice: Buffer, where: { line: number; offset: number }): void => {
      if (walker) {
        walker.fresh();
        if (walker.at(null, slice, 0, slice.length) === slice.length) return;
      }
      raw(null, slice, where);
    };
    const s = new NdjsonSplitter(file, (v) => collect(null, v), line, start?.base ?? 0);
    return ndjsonScanner(s);
  }
  const s = new JsonScanner(
    file,
    { open() {}, sectionStart() {}, sectionEnd() {}, record: (section, v) => collect(section, v), rawRecord: raw, value: (section, v) => collect(section, v, true), close() {} },
    resumeOf(start),
    // Flat records by a member walk on their bytes (roster-walker.ts); what it leaves goes to the text walk.
    options.walker === false ? undefined : new RosterWalker(engine, { wasm: options.wasm }),
  );
  return jsonScanner(s);
}

/**
 * The CSV roster scan reads records only up to the last roster column (see CsvSplitter#skipRest), so on a
 * malformed file it can meet an error later in the file than the first one, or none. Bad input therefore ends
 * it quietly (and a range so ended is never a confirmed record boundary): the redaction pass reads every byte in
 * order and names the first error, the same one whether the file is read by one thread or in ranges.
 */
export function quietOnBadInput(s: RangeScanner): RangeScanner {
  let failed = false;
  const guard = (step: () => void): void => {
    if (failed) return;
    try {
      step();
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      failed = true;
    }
  };
  return {
    push: (b) => guard(() => s.push(b)),
    end: () => guard(() => s.end()),
    atRecordBoundary: (section) => !failed && s.atRecordBoundary(section),
    get lineNo() {
      return s.lineNo;
    },
  };
}

/**
 * The roster pre-pass's raw-row handler for CSV: the values of the roster columns, each distinct one (by its
 * bytes) collected once, as collectRoster would collect them from the row object.
 */
function rosterColumns(engine: RecordRedactor, header: string[], rosterIdx: number[]): RawRowHandler {
  const seen = rosterIdx.map(() => new ValueTable());
  // Per roster column, the slot of the last value: one person's rows often follow each other.
  const last = rosterIdx.map(() => -1);
  const mem = new MemoryView();
  return (b, bounds) => {
    mem.see(b);
    const { view, off } = mem;
    for (let k = 0; k < rosterIdx.length; k++) {
      const i = rosterIdx[k]!;
      const s = off + bounds[2 * i]!;
      const e = off + bounds[2 * i + 1]!;
      if (s === e) continue; // an empty value never enters the roster
      const t = seen[k]!;
      let slot = t.lookup(view, s, e, last[k]!);
      if (slot < 0) {
        slot = t.insert(b, s - off, e - off, t.hashed);
        engine.collectRoster({ [header[i]!]: b[s - off] === 0x22 ? unquote(b, s - off, e - off) : utf8(b, s - off, e - off) }, null);
      }
      last[k] = slot;
    }
  };
}

/** The scanner that redacts, writing the output to `sink`. */
export function redactScanner(
  engine: RecordRedactor,
  format: RedactFormat,
  sink: OutSink,
  start: RangeStart | null = null,
): { scanner: RangeScanner; json?: JsonOutput } {
  const file = engine.report.source;
  if (format === 'csv') {
    const out = new CsvOutput(engine, sink);
    const splitter: CsvSplitter = new CsvSplitter(file, (row, where) => {
      if (out.hasHeader) return out.row(row, where);
      out.setHeader(row, splitter);
    });
    if (start?.csv) {
      splitter.resumeAt(start.base, start.csv.dialect);
      out.setHeader(start.csv.header, splitter, false);
    }
    return { scanner: csvScanner(splitter, new Utf8Validator(file, start?.base ?? 0)) };
  }
  const doc = new JsonOutput(sink, format);
  const rec = (r: string | typeof DROP): void => {
    if (r !== DROP) doc.record(r);
  };
  if (format === 'ndjson') {
    const s = new NdjsonSplitter(file, (v, where) => rec(redactParsedRecord(engine, null, v, where)), (slice, where) => writeRawRecord(engine, null, slice, where, doc), start?.base ?? 0);
    return { scanner: ndjsonScanner(s), json: doc };
  }
  if (start) {
    // A range in the middle of the document: the section's key was written by an earlier range.
    doc.topKind = start.kind;
    doc.topFirst = false;
  }
  const s = new JsonScanner(
    file,
    {
      open: (kind) => doc.open(kind),
      sectionStart: (section) => doc.sectionStart(section),
      sectionEnd: () => doc.sectionEnd(),
      record: (section, v, where) => rec(redactParsedRecord(engine, section, v, where)),
      rawRecord: (section, slice, where) => writeRawRecord(engine, section, slice, where, doc),
      value(section, v, where) {
        const r = redactTopValueText(engine, section, v, where);
        if (r !== DROP) doc.topValue(section, r);
      },
      close: () => doc.close(),
    },
    resumeOf(start),
    process.env.CLARIGUARD_REDACT_PARSED === '1' ? undefined : recordRewriter(engine, () => doc),
  );
  return { scanner: jsonScanner(s), json: doc };
}

function resumeOf(start: RangeStart | null): ScanResume | undefined {
  return start ? { base: start.base, section: start.section } : undefined;
}

function jsonScanner(s: JsonScanner): RangeScanner {
  return { push: (b) => s.push(b), end: () => s.end(), atRecordBoundary: (section) => s.atRecordBoundary(section), get lineNo() { return s.lineNo; } };
}

function ndjsonScanner(s: NdjsonSplitter): RangeScanner {
  return { push: (b) => s.push(b), end: () => s.end(), atRecordBoundary: () => s.atRecordBoundary(), get lineNo() { return s.lineNo; } };
}

function csvScanner(splitter: CsvSplitter, utf8: Utf8Validator): RangeScanner {
  return {
    push: (b) => splitter.push(utf8.check(b)),
    end() {
      utf8.checkEnd();
      splitter.end();
    },
    // A cut inside a multi-byte character can leave the splitter right after a line end: not a boundary.
    atRecordBoundary: () => splitter.atRecordBoundary() && !utf8.holding,
    get lineNo() {
      return splitter.lineNo;
    },
  };
}

export const READ_CHUNK = 1 << 20;

/** Reads [from, to) of an open file into the scanner, one chunk per call to `step`. */
export class RangeReader {
  private pos: number;
  constructor(
    private readonly fd: number,
    private readonly from: number,
    private to: number,
    private readonly scanner: RangeScanner,
  ) {
    this.pos = from;
  }
  /** Bytes read so far. */
  get consumed(): number {
    return this.pos - this.from;
  }
  get done(): boolean {
    return this.pos >= this.to;
  }
  /** Moves the end further (the next range turned out not to start at a record). */
  extend(to: number): void {
    this.to = to;
  }
  // Two read buffers, used in turn: a scanner keeps at most a view of the previous chunk (a record cut at its
  // end), never of the one before. A fresh buffer per chunk left tens of MB of dead buffers per thread.
  private readonly bufs = [Buffer.allocUnsafeSlow(READ_CHUNK), Buffer.allocUnsafeSlow(READ_CHUNK)];
  private turn = 0;

  /** Reads and scans the next chunk; returns its size. */
  step(): number {
    const want = Math.min(READ_CHUNK, this.to - this.pos);
    if (want <= 0) return 0;
    const chunk = this.bufs[(this.turn ^= 1)]!.subarray(0, want);
    const n = readSync(this.fd, chunk, 0, want, this.pos);
    if (n <= 0) throw new Error(`the input file shrank while being read (at byte ${this.pos})`);
    this.pos += n;
    this.scanner.push(n === want ? chunk : chunk.subarray(0, n));
    return n;
  }
  /** Reads to the end synchronously. */
  runAll(): void {
    while (!this.done) this.step();
  }
}
