import * as streams from 'node:stream';
import { Transform, type Duplex, type TransformCallback } from 'node:stream';

// stream.compose exists since Node 16.9 but is missing from @types/node 20.
const compose = (streams as unknown as { compose: (...s: streams.Stream[]) => Duplex }).compose;
import { UsageError } from '../errors.js';
import { DROP, RecordRedactor, type RedactionReport } from './engine.js';
import { csvField, csvInputError, csvParser, NdjsonSplitter, Utf8Validator, type RedactFormat } from './formats.js';
import { isUtf8 } from 'node:buffer';
import { JsonScanner, parseJsonSlice, type RecordLocation } from './json-scanner.js';
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
      if (format === 'csv') return csvTransform(engine, () => decided, decide);
      return jsonTransform(engine, format, () => decided, decide);
    },
  };
}

function keysOf(v: unknown): string[] {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v) : [];
}

/** Accumulates output text and hands it to the stream in ~1 MiB buffers. */
class OutBuffer {
  private parts: string[] = [];
  private size = 0;
  constructor(
    private readonly t: Transform,
    private readonly engine: RecordRedactor,
  ) {}
  write(s: string): void {
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= OUT_BATCH) this.flush();
  }
  flush(): void {
    if (!this.parts.length) return;
    const b = Buffer.from(this.parts.join(''), 'utf8');
    this.engine.report.bytesOut += b.length;
    this.parts = [];
    this.size = 0;
    this.t.push(b);
  }
}

function jsonTransform(engine: RecordRedactor, format: 'json' | 'ndjson', isDecided: () => boolean, decide: (h: ShapeHint) => void): Duplex {
  const file = engine.report.source;
  // CLARIGUARD_REDACT_PARSED=1 forces the parse/stringify path (for comparing the two in tests).
  const fast = process.env.CLARIGUARD_REDACT_PARSED !== '1';
  let out!: OutBuffer;
  // Until the shape is known, events wait here (only the first few, up to the first record).
  let pending: (() => void)[] | null = isDecided() ? null : [];
  const topKeys: string[] = [];
  const run = (f: () => void): void => {
    if (pending) pending.push(f);
    else f();
  };
  const release = (hint: Omit<ShapeHint, 'topKeys' | 'format'>): void => {
    if (!pending) return;
    decide({ format, topKeys, ...hint });
    const p = pending;
    pending = null;
    for (const f of p) f();
  };

  let topFirst = true;
  let sectionFirst = true;
  let topKind: 'array' | 'object' = 'array';
  const emitRecord = (section: string | null, value: unknown, where: RecordLocation): void => {
    const r = engine.redactRecord(value, section, where);
    if (r === DROP) return;
    const text = JSON.stringify(r);
    if (format === 'ndjson') out.write(`${text}\n`);
    else {
      out.write(sectionFirst ? `\n${text}` : `,\n${text}`);
      sectionFirst = false;
    }
  };

  // The fast path: records stay text; only the values the policy changes are replaced.
  const emitRaw = (section: string | null, slice: Buffer, where: RecordLocation): void => {
    if (pending || !isUtf8(slice)) {
      const value = parseJsonSlice(slice, file, where.line, where.offset);
      if (pending) release({ section, recordKeys: keysOf(value) });
      emitRecord(section, value, where);
      return;
    }
    const r = engine.rewriteRecord(slice.toString('utf8'), section, where);
    if (r === null) {
      // Not valid JSON by the fast path's reading: the parser either names the error or takes over.
      emitRecord(section, parseJsonSlice(slice, file, where.line, where.offset), where);
      return;
    }
    if (r === DROP) return;
    if (format === 'ndjson') out.write(`${r}\n`);
    else {
      out.write(sectionFirst ? `\n${r}` : `,\n${r}`);
      sectionFirst = false;
    }
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
            topKind = kind;
            run(() => out.write(kind === 'array' ? '[' : '{'));
          },
          sectionStart(section) {
            topKeys.push(section);
            run(() => {
              out.write(`${topFirst ? '\n' : ',\n'}${JSON.stringify(section)}:[`);
              topFirst = false;
              sectionFirst = true;
            });
          },
          sectionEnd() {
            run(() => out.write('\n]'));
          },
          record(section, value, where) {
            if (pending) release({ section, recordKeys: keysOf(value) });
            emitRecord(section, value, where);
          },
          ...(fast ? { rawRecord: emitRaw } : {}),
          value(section, value, where) {
            topKeys.push(section);
            run(() => {
              const r = engine.redactTopValue(value, section, where);
              if (r === DROP) return;
              out.write(`${topFirst ? '\n' : ',\n'}${JSON.stringify(section)}:${JSON.stringify(r)}`);
              topFirst = false;
            });
          },
          close() {
            // A document without any array element: decide from the top-level keys and the first object's keys.
            run(() => out.write(topKind === 'array' ? '\n]\n' : '\n}\n'));
          },
        });

  const t = new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      engine.report.bytesIn += chunk.length;
      try {
        scanner.push(chunk);
        out.flush();
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
    flush(cb: TransformCallback) {
      try {
        scanner.end();
        if (pending) release({ section: null, recordKeys: [] });
        out.flush();
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
  });
  out = new OutBuffer(t, engine);
  return t;
}

function csvTransform(engine: RecordRedactor, isDecided: () => boolean, decide: (h: ShapeHint) => void): Duplex {
  const file = engine.report.source;
  let header: string[] | null = null;
  let keepCols: number[] = [];
  let out!: OutBuffer;
  const t = new Transform({
    writableObjectMode: true,
    transform(item: { record: string[]; info: { lines: number; bytes: number } }, _e, cb: TransformCallback) {
      try {
        const row = item.record;
        if (!header) {
          header = row;
          if (!isDecided()) decide({ format: 'csv', topKeys: [], section: null, recordKeys: header });
          // Columns the policy drops disappear from the header too.
          keepCols = header.map((h, i) => (engine.columnDropped(h) ? -1 : i)).filter((i) => i >= 0);
          out.write(`${keepCols.map((i) => csvField(header![i])).join(',')}\r\n`);
          cb();
          return;
        }
        const rec: Record<string, string> = {};
        for (let i = 0; i < header.length; i++) rec[header[i]!] = row[i]!;
        const r = engine.redactRecord(rec, null, { line: item.info.lines, offset: item.info.bytes }) as Record<string, unknown> | typeof DROP;
        if (r !== DROP) {
          let line = '';
          for (let k = 0; k < keepCols.length; k++) line += (k ? ',' : '') + csvField(r[header[keepCols[k]!]!]);
          out.write(`${line}\r\n`);
        }
        out.flush();
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
    flush(cb: TransformCallback) {
      out.flush();
      cb();
    },
  });
  out = new OutBuffer(t, engine);
  const counter = new Transform({
    transform(chunk: Buffer, _e, cb) {
      engine.report.bytesIn += chunk.length;
      cb(null, chunk);
    },
  });
  const parser = csvParser();
  const composed = compose(counter, new Utf8Validator(file), parser, t);
  // csv-parse errors carry their own shape; present them as InputError with file, line and offset.
  const origEmit = composed.emit.bind(composed);
  composed.emit = ((ev: string, ...args: unknown[]) => (ev === 'error' ? origEmit('error', csvInputError(file, args[0])) : origEmit(ev, ...args))) as typeof composed.emit;
  return composed;
}
