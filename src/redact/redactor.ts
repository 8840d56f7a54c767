import { Transform, type Duplex, type TransformCallback } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { ClariguardError, UsageError } from '../errors.js';
import { DROP, RecordRedactor, type PathNode, type RedactionReport } from './engine.js';
import { CsvSplitter, type CsvRowLocation, type RawRowHandler } from './csv-splitter.js';
import { CsvRowRewriter } from './csv-rewriter.js';
import { csvField, NdjsonSplitter, Utf8Validator, type RedactFormat } from './formats.js';
import { isUtf8 } from 'node:buffer';
import { BatchingSink, ByteOut, type OutSink } from './byte-out.js';
import { ByteResult } from './byte-rewriter.js';
import type { WorkerBatch } from './worker.js';
import { ModuleRewriter } from './wasm/record-rewrite.js';
import { JsonScanner, parseJsonSlice, type RecordLocation, type RecordRewriter } from './json-scanner.js';
import type { Policy } from './policy.js';
import { detectPreset, presetPolicy, type ShapeHint } from './presets.js';

export interface Redactor {
  /** A byte stream transform: the export in, the redacted export (same format) out. */
  transform(format: RedactFormat): Duplex;
  /** Redacts one record (as parsed JSON or a CSV row object); `section` is e.g. 'users' or null. */
  redactRecord(record: unknown, section?: string | null): unknown;
  /** Counts so far (complete once the transform finished). */
  report(): RedactionReport;
  /** The engine, for roster pre-passes and advanced use. */
  readonly engine: RecordRedactor;
}

export interface RedactorInternalOptions {
  sourceName?: string;
  presetName?: string | null;
  /** When true, the policy is chosen from the data's shape on the first record. */
  autoPreset?: boolean;
  /** Worker threads for JSON/NDJSON records (0: all in this thread). Needs the built dist/ (worker.js). */
  threads?: number;
  /** Called with the size of each input chunk read (progress). */
  onInput?: (bytes: number) => void;
}

const OUT_BATCH = 1 << 20;

/**
 * Builds a redactor. With `autoPreset`, `policy` is a placeholder until the first record shows the shape.
 */
export function buildRedactor(policy: Policy, key: Buffer, opts: RedactorInternalOptions = {}): Redactor {
  const engine = new RecordRedactor(policy, key, { sourceName: opts.sourceName, presetName: opts.presetName ?? null });
  let decided = !opts.autoPreset;
  const started = Date.now();

  const decide = (hint: ShapeHint): void => {
    if (decided) return;
    const name = detectPreset(hint);
    if (!name) {
      const what = hint.format === 'csv' ? `columns ${hint.recordKeys.slice(0, 6).join(', ')}` : `keys ${[...hint.topKeys, ...hint.recordKeys].slice(0, 8).join(', ') || '(none)'}`;
      throw new UsageError(`${engine.report.source}: cannot tell which Clari export shape this is (${what}); pass --preset or --policy`);
    }
    engine.setPolicy(presetPolicy(name), name);
    decided = true;
  };

  const report = (): RedactionReport => {
    engine.report.durationMs = Date.now() - started;
    return engine.finishReport();
  };

  return {
    engine,
    report,
    redactRecord: (record, section = null) => {
      if (!decided) decide({ format: 'json', topKeys: section ? [section] : [], section, recordKeys: keysOf(record) });
      const r = engine.redactRecord(record, section);
      return r === DROP ? undefined : r;
    },
    transform(format) {
      engine.report.format = format;
      if (format === 'csv') return csvTransform(engine, () => decided, decide, opts.onInput);
      return jsonTransform(engine, format, () => decided, decide, opts.threads ?? 0, opts.onInput);
    },
  };
}

function keysOf(v: unknown): string[] {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v) : [];
}

/** Accumulates output (text and byte runs) and hands it to the stream in ~1 MiB buffers. */
class OutBuffer extends BatchingSink {
  constructor(
    private readonly t: Transform,
    private readonly engine: RecordRedactor,
  ) {
    super(OUT_BATCH, OUT_BATCH + (OUT_BATCH >> 2));
  }
  flush(): void {
    if (!this.acc.len) return;
    const b = this.acc.takeCopy();
    this.engine.report.bytesOut += b.length;
    this.t.push(b);
  }
}

/**
 * Writes the redacted JSON document around the records: the same bytes whether one thread writes the whole
 * document or each thread writes one byte range of it (then `ledByRecord` and `sectionFirst` tell the
 * assembler where a ',' goes between two ranges).
 */
export class JsonOutput {
  topFirst = true;
  sectionFirst = true;
  topKind: 'array' | 'object' = 'array';
  /** Nothing but records of the starting section written yet. */
  private onlyRecords = true;
  /** The first thing written was a record of the section the output started in. */
  ledByRecord = false;
  /** A structural event (section start/end, top value, close) was written. */
  changedSection = false;
  constructor(
    private readonly sink: OutSink,
    private readonly format: 'json' | 'ndjson',
  ) {}
  private write(s: string): void {
    this.sink.str(s);
  }
  private structural(s: string): void {
    this.onlyRecords = false;
    this.changedSection = true;
    this.write(s);
  }
  open(kind: 'array' | 'object'): void {
    this.topKind = kind;
    this.structural(kind === 'array' ? '[' : '{');
  }
  sectionStart(section: string): void {
    this.structural(`${this.topFirst ? '\n' : ',\n'}${JSON.stringify(section)}:[`);
    this.topFirst = false;
    this.sectionFirst = true;
  }
  sectionEnd(): void {
    this.structural('\n]');
  }
  record(text: string): void {
    if (this.format === 'ndjson') {
      this.write(`${text}\n`);
      return;
    }
    if (this.onlyRecords && this.sectionFirst) this.ledByRecord = true;
    this.write(this.sectionFirst ? `\n${text}` : `,\n${text}`);
    this.sectionFirst = false;
  }
  private scratch?: ByteOut;
  private mark = 0;
  /**
   * Where the bytes of the next record go: the sink's own buffer after the separator (or a scratch buffer).
   * Then recordDone(true) makes it the next record, recordDone(false) takes it back.
   */
  recordOut(): ByteOut {
    const acc = this.sink.acc;
    if (!acc) {
      this.scratch ??= new ByteOut();
      this.scratch.len = 0;
      return this.scratch;
    }
    this.mark = acc.len;
    if (this.format === 'json') {
      const sep = this.sectionFirst ? NL : COMMA_NL;
      acc.bytes(sep, 0, sep.length);
    }
    return acc;
  }
  recordDone(taken: boolean): void {
    const acc = this.sink.acc;
    if (!taken) {
      if (acc) acc.len = this.mark;
      return;
    }
    if (this.format === 'ndjson') {
      if (acc) acc.bytes(NL, 0, 1);
      else {
        this.sink.bytes(this.scratch!.buf, 0, this.scratch!.len);
        this.sink.bytes(NL, 0, 1);
      }
    } else {
      if (this.onlyRecords && this.sectionFirst) this.ledByRecord = true;
      if (!acc) {
        const sep = this.sectionFirst ? NL : COMMA_NL;
        this.sink.bytes(sep, 0, sep.length);
        this.sink.bytes(this.scratch!.buf, 0, this.scratch!.len);
      }
      this.sectionFirst = false;
    }
    this.sink.after?.();
  }
  /** Several records already joined (',\n' for JSON, each ending in '\n' for NDJSON): a worker's batch. */
  records(joined: string): void {
    if (this.format === 'ndjson') this.write(joined);
    else this.record(joined);
  }
  topValue(section: string, text: string): void {
    this.structural(`${this.topFirst ? '\n' : ',\n'}${JSON.stringify(section)}:${text}`);
    this.topFirst = false;
  }
  close(): void {
    this.structural(this.topKind === 'array' ? '\n]\n' : '\n}\n');
  }
}

const NL = Buffer.from('\n');
const COMMA_NL = Buffer.from(',\n');

/** One record's redacted JSON text (DROP: removed): the text fast path, or the parser when it must decide. */
export function redactRawRecord(engine: RecordRedactor, section: string | null, slice: Buffer, where: RecordLocation): string | typeof DROP {
  if (isUtf8(slice)) {
    const r = engine.rewriteRecord(slice.toString('utf8'), section, where);
    if (r !== null) return r;
  }
  // Not valid JSON by the fast path's reading: the parser either names the error or takes over.
  return redactParsedRecord(engine, section, parseJsonSlice(slice, engine.report.source, where.line, where.offset), where);
}

/** The byte path inside the structural scan: flat records are redacted and written where they are found. */
export function recordRewriter(engine: RecordRedactor, doc: () => JsonOutput, enabled: () => boolean = () => true): RecordRewriter | undefined {
  if (!engine.bytePathEnabled) return undefined;
  const bw = engine.byteRewriter();
  // Runs of records in WebAssembly (wasm/record-rewrite.wat); CLARIGUARD_REDACT_WASM=0 keeps to bw.
  const mod = process.env.CLARIGUARD_REDACT_WASM !== '0' ? new ModuleRewriter(engine) : null;
  return {
    at(section, b, start, end, line, offset) {
      if (!enabled()) return -1;
      const d = doc();
      const r = bw.record(b, start, end, section, line, offset, d.recordOut());
      d.recordDone(r > 0);
      return r;
    },
    get lines() {
      return bw.lines;
    },
    fresh() {
      mod?.fresh();
    },
    run(section, b, start, end, line, offset) {
      if (!mod || !enabled()) return null;
      const d = doc();
      return mod.run(section, b, start, end, line, offset, (bytes, s, e) => {
        d.recordOut().bytes(bytes, s, e);
        d.recordDone(true);
      });
    },
  };
}

/**
 * Redacts one record given as bytes and writes it to `doc`: the byte path for flat records, else the text
 * path, else the parser (which names a syntax error and its place).
 */
export function writeRawRecord(engine: RecordRedactor, section: string | null, slice: Buffer, where: RecordLocation, doc: JsonOutput): void {
  let r: string | typeof DROP;
  const done = engine.bytePathEnabled && isUtf8(slice) ? engine.byteRewriter().rewrite(slice, 0, slice.length, section, where, doc.recordOut()) : null;
  if (done !== null) doc.recordDone(done === ByteResult.Done);
  if (done === ByteResult.Done) return;
  // Not JSON by the byte path's reading: straight to the parser, which names the error and its place.
  if (done === ByteResult.Syntax) r = redactParsedRecord(engine, section, parseJsonSlice(slice, engine.report.source, where.line, where.offset), where);
  else r = redactRawRecord(engine, section, slice, where);
  if (r !== DROP) doc.record(r);
}

export function redactParsedRecord(engine: RecordRedactor, section: string | null, value: unknown, where: RecordLocation): string | typeof DROP {
  const r = engine.redactRecord(value, section, where);
  return r === DROP ? DROP : JSON.stringify(r);
}

export function redactTopValueText(engine: RecordRedactor, section: string, value: unknown, where: RecordLocation): string | typeof DROP {
  const r = engine.redactTopValue(value, section, where);
  return r === DROP ? DROP : JSON.stringify(r);
}

function jsonTransform(engine: RecordRedactor, format: 'json' | 'ndjson', isDecided: () => boolean, decide: (h: ShapeHint) => void, threads = 0, onInput?: (bytes: number) => void): Duplex {
  const file = engine.report.source;
  // CLARIGUARD_REDACT_PARSED=1 forces the parse/stringify path (for comparing the two in tests).
  const fast = process.env.CLARIGUARD_REDACT_PARSED !== '1';
  let out!: OutBuffer;
  let doc!: JsonOutput;
  // Until the shape is known, events wait here (only the first few, up to the first record).
  let pending: (() => void)[] | null = isDecided() ? null : [];
  const topKeys: string[] = [];
  const pool = threads > 0 && fast ? new WorkerPool(threads) : null;
  let poolStarted = false;
  // With workers, output is an ordered queue of writes and batch results, drained as results arrive.
  const queue: (((() => void) | Promise<{ text: string; count: number }>))[] = [];
  let batch: { section: string | null; slices: Buffer[]; index: number[]; size: number } | null = null;
  const dispatch = (): void => {
    if (!batch || !pool) return;
    const b = batch;
    batch = null;
    const buf = Buffer.concat(b.slices);
    queue.push(pool.run(b.section, buf, new Float64Array(b.index)));
  };
  const run = (f: () => void): void => {
    if (pending) pending.push(f);
    else if (poolStarted) {
      dispatch();
      queue.push(f);
    } else f();
  };
  /** Writes queued output in order; with `all`, waits for every batch, else only for finished ones (up to a cap). */
  const drain = async (all: boolean): Promise<void> => {
    while (queue.length) {
      const head = queue[0]!;
      if (typeof head === 'function') {
        queue.shift();
        head();
        continue;
      }
      if (!all && queue.length < pool!.size * 3 && !(await isSettled(head))) break;
      const r = await head;
      queue.shift();
      if (r.count) doc.records(r.text);
      out.flush();
    }
  };
  const release = (hint: Omit<ShapeHint, 'topKeys' | 'format'>): void => {
    if (!pending) return;
    decide({ format, topKeys, ...hint });
    const p = pending;
    pending = null;
    for (const f of p) f();
  };

  const emitRecord = (section: string | null, value: unknown, where: RecordLocation): void => {
    const r = redactParsedRecord(engine, section, value, where);
    if (r !== DROP) doc.record(r);
  };

  // The fast path: records stay text; only the values the policy changes are replaced.
  const emitRaw = (section: string | null, slice: Buffer, where: RecordLocation): void => {
    if (pending || !isUtf8(slice)) {
      const value = parseJsonSlice(slice, file, where.line, where.offset);
      if (pending) release({ section, recordKeys: keysOf(value) });
      emitRecord(section, value, where);
      return;
    }
    if (pool) {
      if (!poolStarted) {
        pool.start(engine, format);
        poolStarted = true;
      }
      if (batch && batch.section !== section) dispatch();
      batch ??= { section, slices: [], index: [], size: 0 };
      batch.index.push(batch.size, batch.size + slice.length, where.line, where.offset);
      // A copy: the scanner reuses its buffers, and a batch can outlive the chunk the record came in.
      batch.slices.push(Buffer.from(slice));
      batch.size += slice.length;
      if (batch.size >= 512 * 1024) dispatch();
      return;
    }
    writeRawRecord(engine, section, slice, where, doc);
  };

  const scanner =
    format === 'ndjson'
      ? new NdjsonSplitter(
          file,
          (value, where) => {
            if (pending) release({ section: null, recordKeys: keysOf(value) });
            emitRecord(null, value, where);
          },
          fast ? (slice, where) => emitRaw(null, slice, where) : undefined,
        )
      : new JsonScanner(file, {
          open(kind) {
            run(() => doc.open(kind));
          },
          sectionStart(section) {
            topKeys.push(section);
            run(() => doc.sectionStart(section));
          },
          sectionEnd() {
            run(() => doc.sectionEnd());
          },
          record(section, value, where) {
            if (pending) release({ section, recordKeys: keysOf(value) });
            emitRecord(section, value, where);
          },
          ...(fast ? { rawRecord: emitRaw } : {}),
          value(section, value, where) {
            topKeys.push(section);
            run(() => {
              const r = redactTopValueText(engine, section, value, where);
              if (r !== DROP) doc.topValue(section, r);
            });
          },
          close() {
            // A document without any array element: decide from the top-level keys and the first object's keys.
            run(() => doc.close());
          },
        }, undefined, fast ? recordRewriter(engine, () => doc, () => !pending && !pool) : undefined);

  /** Runs one step of the transform; a step that waits for workers returns their promise. Errors stop the pool. */
  const step = (cb: TransformCallback, work: () => Promise<void> | void): void => {
    try {
      const waiting = work();
      if (!waiting) return cb();
      waiting.then(() => cb(), (e: Error) => {
        pool!.stop();
        cb(e);
      });
    } catch (e) {
      pool?.stop();
      cb(e as Error);
    }
  };
  const t = new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      engine.report.bytesIn += chunk.length;
      onInput?.(chunk.length);
      step(cb, () => {
        scanner.push(chunk);
        if (poolStarted) return drain(false);
        out.flush();
      });
    },
    flush(cb: TransformCallback) {
      step(cb, () => {
        scanner.end();
        if (pending) release({ section: null, recordKeys: [] });
        if (poolStarted) {
          dispatch();
          return drain(true)
            .then(() => pool!.finish(engine))
            .then(() => out.flush());
        }
        out.flush();
      });
    },
    destroy(err, cb) {
      pool?.stop();
      cb(err);
    },
  });
  out = new OutBuffer(t, engine);
  doc = new JsonOutput(out, format);
  return t;
}

/** Writes redacted CSV: the header (without dropped columns), then one line per row. */
export class CsvOutput {
  private header: string[] | null = null;
  private keepCols: number[] = [];
  private columns: PathNode[] | null = null;
  private byteRows: CsvRowRewriter | null = null;
  private scratch?: ByteOut;
  constructor(
    private readonly engine: RecordRedactor,
    private readonly sink: OutSink,
  ) {}
  get hasHeader(): boolean {
    return this.header !== null;
  }
  /**
   * Takes the header row (`emit` false when another range already wrote it), and hands `splitter` the byte
   * path for the rows that follow when they can take it (csv-rewriter.ts); other rows come to row().
   */
  setHeader(header: string[], splitter: CsvSplitter, emit = true): void {
    this.header = header;
    const engine = this.engine;
    // Columns the policy drops disappear from the header too.
    this.keepCols = header.map((h, i) => (engine.columnDropped(h) ? -1 : i)).filter((i) => i >= 0);
    this.columns = engine.csvColumns(header);
    this.byteRows = this.columns && engine.bytePathEnabled ? new CsvRowRewriter(engine, this.columns, this.keepCols) : null;
    if (emit) this.sink.str(`${this.keepCols.map((i) => csvField(header[i])).join(',')}\r\n`);
    splitter.setRawHandler(this.rawRows());
  }

  private rawRows(): RawRowHandler | null {
    const rw = this.byteRows;
    if (rw === null) return null;
    return (b, bounds, _count, where) => {
      const acc = this.sink.acc;
      const out = acc ?? (this.scratch ??= new ByteOut());
      if (!acc) out.len = 0;
      rw.row(b, bounds, where, out);
      out.bytes(CRLF, 0, 2);
      if (acc) this.sink.after?.();
      else this.sink.bytes(out.buf, 0, out.len);
    };
  }
  row(row: string[], where: CsvRowLocation): void {
    const header = this.header!;
    const keepCols = this.keepCols;
    let line = '';
    if (this.columns) {
      const fields = row as unknown[];
      this.engine.redactRow(this.columns, fields, where);
      for (let k = 0; k < keepCols.length; k++) {
        const v = fields[keepCols[k]!];
        line += (k ? ',' : '') + (v === DROP ? '' : csvField(v));
      }
    } else {
      const rec: Record<string, string> = {};
      for (let i = 0; i < header.length; i++) rec[header[i]!] = row[i]!;
      const r = this.engine.redactRecord(rec, null, where) as Record<string, unknown> | typeof DROP;
      if (r === DROP) return;
      for (let k = 0; k < keepCols.length; k++) line += (k ? ',' : '') + csvField(r[header[keepCols[k]!]!]);
    }
    this.sink.str(`${line}\r\n`);
  }
}

const CRLF = Buffer.from('\r\n');

function csvTransform(engine: RecordRedactor, isDecided: () => boolean, decide: (h: ShapeHint) => void, onInput?: (bytes: number) => void): Duplex {
  const file = engine.report.source;
  let out!: OutBuffer;
  let csv!: CsvOutput;
  const onRow = (row: string[], where: CsvRowLocation): void => {
    if (!csv.hasHeader) {
      if (!isDecided()) decide({ format: 'csv', topKeys: [], section: null, recordKeys: row });
      csv.setHeader(row, splitter);
      return;
    }
    csv.row(row, where);
  };
  const splitter: CsvSplitter = new CsvSplitter(file, onRow);
  // UTF-8 is checked in the same transform (not a piped validator): one stream stage less, fewer buffers held.
  const utf8 = new Utf8Validator(file);
  const t = new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      engine.report.bytesIn += chunk.length;
      onInput?.(chunk.length);
      try {
        splitter.push(utf8.check(chunk));
        out.flush();
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
    flush(cb: TransformCallback) {
      try {
        utf8.checkEnd();
        splitter.end();
        out.flush();
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
  });
  out = new OutBuffer(t, engine);
  csv = new CsvOutput(engine, out);
  return t;
}

function isSettled(p: Promise<unknown>): Promise<boolean> {
  const marker = {};
  return Promise.race([p.then(() => true, () => true), Promise.resolve(marker).then(() => false)]);
}

/** Round-robin pool of redaction workers; results come back per batch, in the order they were sent. */
class WorkerPool {
  private workers: Worker[] = [];
  private next = 0;
  private seq = 0;
  private waiting = new Map<number, { resolve: (r: { text: string; count: number }) => void; reject: (e: Error) => void }>();
  /** Per worker: how much of the main roster it has been sent (a Roster#added mark). */
  private rosterSent: number[] = [];
  private roster: RecordRedactor['roster'] | null = null;
  constructor(readonly size: number) {}

  start(engine: RecordRedactor, format: 'json' | 'ndjson'): void {
    const init = { type: 'init', policy: engine.policy, key: new Uint8Array(engine.keyBytes), source: engine.report.source, presetName: engine.report.preset, format, roster: engine.roster.entries() };
    this.roster = engine.roster;
    for (let i = 0; i < this.size; i++) {
      this.rosterSent.push(engine.roster.added);
      const w = new Worker(new URL('./worker.js', import.meta.url));
      w.on('message', (m: { type: string; seq: number; text: string; count: number; message: string; exitCode: number; code: string }) => {
        if (m.type === 'report') return;
        const p = this.waiting.get(m.seq);
        if (!p) return;
        this.waiting.delete(m.seq);
        if (m.type === 'error') p.reject(new ClariguardError(m.message, { exitCode: m.exitCode, code: m.code }));
        else p.resolve({ text: m.text, count: m.count });
      });
      w.on('error', (e) => {
        for (const p of this.waiting.values()) p.reject(e);
        this.waiting.clear();
      });
      w.postMessage(init);
      this.workers.push(w);
    }
  }

  run(section: string | null, buf: Buffer, index: Float64Array): Promise<{ text: string; count: number }> {
    const seq = this.seq++;
    const i = this.next++ % this.workers.length;
    const w = this.workers[i]!;
    const p = new Promise<{ text: string; count: number }>((resolve, reject) => this.waiting.set(seq, { resolve, reject }));
    const ab = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    const roster = this.roster!.since(this.rosterSent[i]!);
    this.rosterSent[i] = this.roster!.added;
    w.postMessage({ type: 'batch', seq, section, buf: ab, index, roster } satisfies WorkerBatch, [ab.buffer as ArrayBuffer]);
    return p;
  }

  /**
   * Collects each worker's counts and the people it met into the main report and roster (so the report's
   * roster size is what one thread would count), then ends the workers.
   */
  async finish(engine: RecordRedactor): Promise<void> {
    type Final = { report: RedactionReport; roster: [string, string][] };
    const finals = await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<Final>((resolve) => {
            w.on('message', (m: { type: string } & Final) => {
              if (m.type === 'report') resolve(m);
            });
            w.postMessage({ type: 'finish' });
          }),
      ),
    );
    for (const f of finals) {
      engine.mergeCounts(f.report);
      for (const [v, r] of f.roster) engine.roster.add(v, r);
    }
    this.stop();
  }

  stop(): void {
    for (const w of this.workers) void w.terminate();
    this.workers = [];
  }
}
