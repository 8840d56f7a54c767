import { once } from 'node:events';
import { closeSync, createReadStream, existsSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ClariguardError, InputError } from '../errors.js';
import { trackTemp, untrackTemp, writeAll } from '../util/atomic.js';
import { BatchingSink, type OutSink } from './byte-out.js';
import { memoryGovernor } from '../util/memory.js';
import { CsvSplitter } from './csv-splitter.js';
import { addReportCounts, RecordRedactor, type RedactionReport } from './engine.js';
import type { RedactFormat } from './formats.js';
import { JsonScanner } from './json-scanner.js';
import type { Policy } from './policy.js';
import { RangeReader, redactScanner, rosterScanner, type RangeMode, type RangeScanner, type RangeStart } from './ranges.js';

// Parallel redaction of a file: the file is cut into byte ranges at guessed record starts, each range is read
// by its own thread with its own engine, and the range before each cut confirms, when it reaches the cut, that
// it stopped exactly between two records (otherwise it reads on past the cut and the next range's work is
// thrown away). So a wrong guess costs time, never correctness, and the output is byte for byte what one
// thread reading the whole file writes. Two phases: every range collects the roster (names seen anywhere),
// the rosters are merged in file order, then every range redacts with the merged roster.

export interface EngineInit {
  policy: Policy;
  key: Uint8Array;
  source: string;
  presetName: string | null;
  format: RedactFormat;
}

export interface RangeJob {
  mode: RangeMode;
  from: number;
  to: number;
  /** The range ends at the end of the file. */
  last: boolean;
  /** Null for the range at the start of the file. */
  start: RangeStart | null;
  /** The section the next range is guessed to start in (JSON). */
  nextSection: string | null;
  /** Redact mode: the merged roster to start from. */
  roster: [string, string][] | null;
  /** Redact mode: where the output goes (a part file), null when a stream sink is given. */
  partPath: string | null;
}

export interface RangeResult {
  boundary: boolean;
  lineNo: number;
  roster?: [string, string][];
  json?: { ledByRecord: boolean; sectionFirst: boolean; changedSection: boolean };
  report?: RedactionReport;
  bytesOut: number;
}

/** An error from a range, in a form that crosses threads. */
export interface RangeFailure {
  message: string;
  exitCode: number;
  code: string;
  input?: { detail: string; line?: number; offset?: number; column?: number };
}

export function describeFailure(e: unknown): RangeFailure {
  if (e instanceof InputError) return { message: e.message, exitCode: e.exitCode, code: e.code, input: { detail: e.detail, line: e.line, offset: e.offset, column: e.column } };
  if (e instanceof ClariguardError) return { message: e.message, exitCode: e.exitCode, code: e.code };
  return { message: (e as Error)?.message ?? String(e), exitCode: 70, code: 'internal' };
}

const FLUSH_AT = 1 << 20;
const GC_RSS_THRESHOLD = 150 << 20;

/** Where a range's output goes: a part file (written synchronously) or the final stream. */
interface Sink extends OutSink {
  /** Hands over what was written so far; resolves when the stream can take more. */
  flush(): Promise<void> | void;
  /** Bytes handed over so far. */
  written: number;
  close(): void;
}

class FileSink extends BatchingSink implements Sink {
  // Output is encoded and copied into one reused buffer, written out when it holds FLUSH_AT bytes.
  written = 0;
  constructor(private readonly fd: number) {
    super(FLUSH_AT, 2 * FLUSH_AT);
  }
  flush(): void {
    if (!this.acc.len) return;
    const b = this.acc.take();
    writeAll(this.fd, b);
    this.written += b.length;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

class StreamSink extends BatchingSink implements Sink {
  // The stream keeps each buffer it is given: every flush hands over a copy of its own. Flushed by the range's
  // reading loop (once per chunk read), which waits for the stream to drain.
  written = 0;
  constructor(private readonly out: Writable) {
    super(Infinity, FLUSH_AT + (FLUSH_AT >> 2));
  }
  async flush(): Promise<void> {
    if (!this.acc.len) return;
    const b = this.acc.takeCopy();
    this.written += b.length;
    if (!this.out.write(b)) await drainOrFail(this.out);
  }
  close(): void {}
}

async function drainOrFail(out: Writable): Promise<void> {
  // 'error' rejects the wait, so a broken output does not leave the loop waiting forever.
  await once(out, 'drain');
}

/** One range being read: the same code runs in the main thread and in the workers. */
export class RangeTask {
  private readonly engine: RecordRedactor;
  private readonly scanner: RangeScanner;
  private readonly reader: RangeReader;
  private readonly json?: { ledByRecord: boolean; sectionFirst: boolean; changedSection: boolean };
  private readonly sink: Sink | null;
  private readonly fd: number;
  private last: boolean;
  private nextSection: string | null;
  // Several heaps share the process: each collects early so the sum stays under the single-thread peak.
  private readonly govern = memoryGovernor(GC_RSS_THRESHOLD);

  constructor(
    private readonly init: EngineInit,
    private readonly file: string,
    private readonly job: RangeJob,
    sink?: Sink,
    /** Progress: bytes read by this task. */
    private readonly onInput?: (bytes: number) => void,
  ) {
    this.engine = new RecordRedactor(init.policy, Buffer.from(init.key), { sourceName: init.source, presetName: init.presetName, format: init.format });
    this.engine.report.format = init.format;
    if (job.roster) for (const [v, r] of job.roster) this.engine.roster.add(v, r);
    this.last = job.last;
    this.nextSection = job.nextSection;
    if (job.mode === 'roster') {
      this.sink = null;
      this.scanner = rosterScanner(this.engine, init.format, job.start);
    } else {
      this.sink = sink ?? new FileSink(openSync(job.partPath!, 'wx', 0o600));
      const r = redactScanner(this.engine, init.format, this.sink!, job.start);
      this.scanner = r.scanner;
      this.json = r.json;
    }
    this.fd = openSync(file, 'r');
    this.reader = new RangeReader(this.fd, job.from, job.to, this.scanner);
  }

  async run(): Promise<RangeResult> {
    while (!this.reader.done) {
      const n = this.reader.step();
      this.onInput?.(n);
      this.govern(this.reader.consumed);
      const f = this.sink?.flush();
      if (f) await f;
    }
    if (this.last) this.scanner.end();
    if (this.sink) await this.sink.flush();
    return this.result();
  }

  /** The next range's start was not a record start: read on to `to`. */
  extend(to: number, last: boolean, nextSection: string | null): Promise<RangeResult> {
    this.reader.extend(to);
    this.last = last;
    this.nextSection = nextSection;
    return this.run();
  }

  private result(): RangeResult {
    const boundary = !this.last && this.scanner.atRecordBoundary(this.nextSection);
    const r: RangeResult = { boundary, lineNo: this.scanner.lineNo, bytesOut: this.sink?.written ?? 0 };
    if (this.job.mode === 'roster') r.roster = this.engine.roster.entries();
    else {
      r.report = this.engine.finishReport();
      if (this.json) r.json = { ledByRecord: this.json.ledByRecord, sectionFirst: this.json.sectionFirst, changedSection: this.json.changedSection };
    }
    return r;
  }

  private closed = false;
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    this.sink?.close();
  }

}

// ---- Where to cut ---------------------------------------------------------------------------------------

/** What the first bytes tell about the file's layout, enough to recognise record starts further in. */
interface Layout {
  kind: 'array' | 'object';
  /** JSON: per section (null for a top-level array), the first key of its first record, as latin1 of its UTF-8. */
  firstKeys: Map<string | null, string>;
  csv?: RangeStart['csv'];
}

function learnLayout(head: Buffer, format: RedactFormat, source: string): Layout | null {
  if (format === 'ndjson') return { kind: 'array', firstKeys: new Map() };
  if (format === 'csv') {
    let header: string[] | null = null;
    const s: CsvSplitter = new CsvSplitter(source, (row) => {
      header ??= [...row];
    });
    try {
      s.push(head);
    } catch {
      return null;
    }
    const dialect = s.dialect();
    return header && dialect ? { kind: 'array', firstKeys: new Map(), csv: { header, dialect } } : null;
  }
  const layout: Layout = { kind: 'array', firstKeys: new Map() };
  const s = new JsonScanner(source, {
    open: (k) => (layout.kind = k),
    sectionStart() {},
    sectionEnd() {},
    record() {},
    rawRecord(section, slice) {
      if (layout.firstKeys.has(section)) return;
      const m = /^\s*\{\s*"((?:[^"\\]|\\.)+)"\s*:/.exec(slice.toString('latin1'));
      if (m && !m[1]!.includes('\\')) layout.firstKeys.set(section, m[1]!);
    },
    value() {},
    close() {},
  });
  try {
    s.push(head);
  } catch {
    return null; // malformed near the start: the single-thread path reports it
  }
  return layout.firstKeys.size ? layout : null;
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export interface Cut {
  at: number;
  section: string | null;
}

/** The first plausible record start at or after `from` (before `limit`), or null. */
function findCut(fd: number, from: number, limit: number, format: RedactFormat, layout: Layout): Cut | null {
  const WINDOW = 1 << 20;
  const re =
    format === 'json'
      ? new RegExp(`,[ \\t\\r\\n]*(\\{)[ \\t\\r\\n]*"(${[...layout.firstKeys.values()].map(escapeRe).join('|')})"[ \\t\\r\\n]*:`, 'g')
      : null;
  const sectionOf = new Map([...layout.firstKeys].map(([s, k]) => [k, s]));
  const rdByte = layout.csv?.dialect.rd === 3 ? 0x0d : 0x0a;
  for (let pos = from; pos < limit; pos += WINDOW - 4096) {
    const len = Math.min(WINDOW, limit - pos);
    const buf = Buffer.allocUnsafe(len);
    const n = readSync(fd, buf, 0, len, pos);
    if (n <= 0) return null;
    const b = buf.subarray(0, n);
    if (!re) {
      const i = b.indexOf(rdByte);
      if (i >= 0 && pos + i + 1 < limit) return { at: pos + i + 1, section: null };
      continue;
    }
    re.lastIndex = 0;
    const m = re.exec(b.toString('latin1'));
    if (m) return { at: pos + m.index + m[0].indexOf('{'), section: sectionOf.get(m[2]!) ?? null };
    if (n < len) return null;
  }
  return null;
}

/** Cuts the file into about `parts` ranges; [] when it cannot be cut (then one thread reads it). */
export function planCuts(fd: number, size: number, head: Buffer, format: RedactFormat, source: string, parts: number): { cuts: Cut[]; layout: Layout } | null {
  const layout = learnLayout(head, format, source);
  if (!layout) return null;
  const cuts: Cut[] = [];
  let prev = 0;
  for (let k = 1; k < parts; k++) {
    const target = Math.max(prev, Math.floor((k * size) / parts));
    const limit = Math.floor(((k + 1) * size) / parts);
    const c = findCut(fd, target, Math.min(limit, size), format, layout);
    if (c && c.at > prev && c.at < size) {
      cuts.push(c);
      prev = c.at;
    }
  }
  return { cuts, layout };
}

// ---- Who reads a range ----------------------------------------------------------------------------------

interface Executor {
  start(job: RangeJob): Promise<RangeResult>;
  extend(to: number, last: boolean, nextSection: string | null): Promise<RangeResult>;
  /** Ends the current task (closes its files). */
  finishTask(): Promise<void>;
  close(): void;
}

/** Reads ranges in this thread (the first range always; all of them when workers are not available). */
class InlineExecutor implements Executor {
  private task?: RangeTask;
  constructor(
    private readonly init: EngineInit,
    private readonly file: string,
    private readonly sink?: () => Sink,
    private readonly onInput?: (bytes: number) => void,
  ) {}
  start(job: RangeJob): Promise<RangeResult> {
    this.task?.close();
    this.task = new RangeTask(this.init, this.file, job, job.mode === 'redact' && !job.partPath && this.sink ? this.sink() : undefined, this.onInput);
    return this.task.run();
  }
  extend(to: number, last: boolean, nextSection: string | null): Promise<RangeResult> {
    return this.task!.extend(to, last, nextSection);
  }
  async finishTask(): Promise<void> {
    this.task?.close();
    this.task = undefined;
  }
  close(): void {
    this.task?.close();
    this.task = undefined;
  }
}

type WorkerReply = { type: 'result'; result: RangeResult } | { type: 'error'; failure: RangeFailure } | { type: 'closed' } | { type: 'progress'; bytes: number };

function newRangeWorker(): Worker {
  return new Worker(new URL('./range-worker.js', import.meta.url), {
    // A small young generation: measured, it kept peak RSS under 200 MB with two threads at no speed cost.
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
  });
}

/** Workers started ahead of time (see prewarmRangeWorkers), with what became of them before they were taken. */
const spares: { worker: Worker; gone: boolean }[] = [];

/**
 * Starts `n` range workers now, so that they load their modules (~0.2 s here) while this thread does its own
 * start-up (reading the key, planning the cuts) instead of after it; redactInRanges takes them. The ones not
 * taken are ended by releaseRangeWorkers() (and never keep the process alive).
 */
export function prewarmRangeWorkers(n: number): void {
  if (!workersAvailable()) return;
  while (spares.filter((s) => !s.gone).length < n) {
    const spare = { worker: newRangeWorker(), gone: false };
    const gone = (): void => {
      spare.gone = true;
    };
    spare.worker.once('error', gone);
    spare.worker.once('exit', gone);
    spare.worker.unref();
    spares.push(spare);
  }
}

/** Ends the workers prewarmRangeWorkers() started that no run took. */
export function releaseRangeWorkers(): void {
  for (const s of spares.splice(0)) void s.worker.terminate();
}

function takeRangeWorker(): Worker {
  for (let s = spares.shift(); s; s = spares.shift()) {
    if (!s.gone) {
      s.worker.removeAllListeners('error').removeAllListeners('exit');
      s.worker.ref();
      return s.worker;
    }
    void s.worker.terminate();
  }
  return newRangeWorker();
}

class WorkerExecutor implements Executor {
  private readonly worker: Worker;
  private waiting: { resolve: (r: WorkerReply) => void } | null = null;
  private failed: Error | null = null;
  constructor(init: EngineInit, file: string, onInput?: (bytes: number) => void) {
    this.worker = takeRangeWorker();
    this.worker.postMessage({ type: 'init', init, file });
    this.worker.on('message', (m: WorkerReply) => {
      if (m.type === 'progress') return onInput?.(m.bytes);
      const w = this.waiting;
      this.waiting = null;
      w?.resolve(m);
    });
    this.worker.on('error', (e) => this.fail(e));
    // A worker that ends while a range is pending (terminated, or exited on its own) fails that range.
    this.worker.on('exit', (code) => this.fail(new Error(`a redaction thread stopped (exit code ${code})`)));
  }
  private fail(e: Error): void {
    this.failed ??= e;
    const w = this.waiting;
    this.waiting = null;
    w?.resolve({ type: 'error', failure: describeFailure(e) });
  }
  private ask(msg: unknown): Promise<WorkerReply> {
    if (this.failed) return Promise.resolve({ type: 'error', failure: describeFailure(this.failed) });
    return new Promise((resolve) => {
      this.waiting = { resolve };
      this.worker.postMessage(msg);
    });
  }
  private async result(msg: unknown): Promise<RangeResult> {
    const r = await this.ask(msg);
    if (r.type === 'error') throw new RangeFailed(r.failure);
    if (r.type !== 'result') throw new Error('unexpected reply from a redaction worker');
    return r.result;
  }
  start(job: RangeJob): Promise<RangeResult> {
    return this.result({ type: 'start', job });
  }
  extend(to: number, last: boolean, nextSection: string | null): Promise<RangeResult> {
    return this.result({ type: 'extend', to, last, nextSection });
  }
  async finishTask(): Promise<void> {
    await this.ask({ type: 'finish' });
  }
  close(): void {
    void this.worker.terminate();
  }
}

export class RangeFailed extends Error {
  constructor(readonly failure: RangeFailure) {
    super(failure.message);
  }
}

// ---- The whole run ---------------------------------------------------------------------------------------

export interface ParallelOptions {
  file: string;
  size: number;
  head: Buffer;
  format: RedactFormat;
  policy: Policy;
  presetName: string | null;
  key: Buffer;
  source: string;
  output: Writable;
  threads: number;
  /** Directory for the ranges' part files (beside the output, so appending them stays on one disk). */
  tmpDir: string;
  /** false: every range is read in this thread (tests of the cutting logic without workers). */
  workers?: boolean;
  /** Tests: cut here instead of at guessed record starts (any offsets; wrong ones must not change the output). */
  cuts?: Cut[];
  /** Progress: bytes read, by every thread, in both phases. */
  onInput?: (bytes: number) => void;
}

/** The worker script exists only in the built package (dist/); from sources, ranges run in this thread. */
export function workersAvailable(): boolean {
  return existsSync(fileURLToPath(new URL('./range-worker.js', import.meta.url)));
}

/**
 * Redacts a file in ranges, in parallel; null when the file cannot be cut (the caller then reads it in one
 * thread). The output written to `output` is identical to the single-thread result.
 */
export async function redactInRanges(o: ParallelOptions): Promise<RedactionReport | null> {
  const started = Date.now();
  const fd = openSync(o.file, 'r');
  let plan: ReturnType<typeof planCuts>;
  try {
    plan = planCuts(fd, o.size, o.head, o.format, o.source, o.threads);
  } finally {
    closeSync(fd);
  }
  if (plan && o.cuts) plan.cuts = o.cuts;
  if (!plan || plan.cuts.length === 0) return null;
  const init: EngineInit = { policy: o.policy, key: new Uint8Array(o.key), source: o.source, presetName: o.presetName, format: o.format };
  const useWorkers = o.workers !== false && workersAvailable();
  const main = new InlineExecutor(init, o.file, () => new StreamSink(o.output), o.onInput);
  const executors: Executor[] = [main];
  for (let i = 0; i < plan.cuts.length; i++) executors.push(useWorkers ? new WorkerExecutor(init, o.file, o.onInput) : new InlineExecutor(init, o.file, undefined, o.onInput));
  const dir = mkdtempSync(join(o.tmpDir, '.clariguard-ranges-'));
  trackTemp(dir);
  try {
    const startOf = (c: Cut): RangeStart => ({ base: c.at, section: c.section, kind: plan!.layout.kind, csv: plan!.layout.csv });
    // Phase 1: rosters per range (none without roster rules); the cuts that survive are confirmed record starts.
    let cuts = plan.cuts;
    let merged: [string, string][] = [];
    if (o.policy.rules.some((r) => r.roster)) {
      const p1 = await runPhase('roster', plan.cuts, executors, o, startOf, null, dir);
      const roster = new Map<string, string>();
      for (const r of p1.results) for (const [v, rep] of r.roster ?? []) if (!roster.has(v)) roster.set(v, rep);
      merged = [...roster];
      cuts = p1.cuts;
    }
    // Phase 2: redaction, each range with the whole roster.
    const p2 = await runPhase('redact', cuts, executors, o, startOf, merged, dir);
    // The workers are done: their heaps go before the parts are copied.
    for (const e of executors) e.close();
    const report = await assemble(p2, o.output);
    report.roster.prepass = o.policy.rules.some((r) => r.roster);
    report.durationMs = Date.now() - started;
    report.bytesIn = o.size;
    return report;
  } finally {
    for (const e of executors) e.close();
    rmSync(dir, { recursive: true, force: true });
    untrackTemp(dir);
  }
}

interface PhaseResult {
  cuts: Cut[];
  results: RangeResult[];
  parts: (string | null)[];
}

async function runPhase(
  mode: RangeMode,
  cutsIn: Cut[],
  executors: Executor[],
  o: ParallelOptions,
  startOf: (c: Cut) => RangeStart,
  roster: [string, string][] | null,
  dir: string,
): Promise<PhaseResult> {
  const cuts = [...cutsIn];
  const n = cuts.length + 1;
  const bounds = (i: number): { from: number; to: number } => ({ from: i === 0 ? 0 : cuts[i - 1]!.at, to: i < cuts.length ? cuts[i]!.at : o.size });
  const parts: (string | null)[] = [];
  const jobs: RangeJob[] = [];
  for (let i = 0; i < n; i++) {
    const { from, to } = bounds(i);
    const partPath = mode === 'redact' && i > 0 ? join(dir, `${mode}-${i}`) : null;
    parts.push(partPath);
    jobs.push({ mode, from, to, last: i === n - 1, start: i === 0 ? null : startOf(cuts[i - 1]!), nextSection: i < cuts.length ? cuts[i]!.section : null, roster, partPath });
  }
  // Workers first (they run while this thread reads the first range).
  const pending: Promise<RangeResult>[] = new Array(n);
  for (let i = n - 1; i >= 0; i--) {
    pending[i] = executors[i]!.start(jobs[i]!);
    pending[i]!.catch(() => undefined); // awaited in order below; a dropped range's failure is not an error
  }
  const results: RangeResult[] = [];
  const lineAt: number[] = [1];
  const keptParts: (string | null)[] = [];
  const keptCuts: Cut[] = [];
  let i = 0;
  let next = 1; // index (in the original numbering) of the range after the current one
  let current = pending[0]!;
  let exec = executors[0]!;
  let failed = false;
  try {
    for (;;) {
      let r: RangeResult;
      try {
        r = await current;
      } catch (e) {
        failed = true;
        throw located(e, o.source, lineAt[lineAt.length - 1]!);
      }
      if (next >= n) {
        results.push(r);
        keptParts.push(parts[i]!);
        break;
      }
      if (r.boundary) {
        results.push(r);
        keptParts.push(parts[i]!);
        keptCuts.push(cuts[next - 1]!);
        lineAt.push(lineAt[lineAt.length - 1]! + r.lineNo - 1);
        i = next;
        next++;
        current = pending[i]!;
        exec = executors[i]!;
        continue;
      }
      // The guessed start was inside a record: this range reads on through the next one, whose work is dropped.
      await pending[next]!.catch(() => undefined);
      await executors[next]!.finishTask();
      if (parts[next]) rmSync(parts[next]!, { force: true });
      next++;
      const to = next - 1 < cuts.length ? cuts[next - 1]!.at : o.size;
      current = exec.extend(to, next >= n, next - 1 < cuts.length ? cuts[next - 1]!.section : null);
      current.catch(() => undefined);
    }
  } finally {
    // On failure the other ranges' work is useless: stop the threads now rather than wait for them.
    if (failed) for (const e of executors) e.close();
    // Every task is settled before the next phase reuses its executor.
    await Promise.allSettled(pending);
    if (!failed) for (const e of executors) await e.finishTask().catch(() => undefined);
  }
  return { cuts: keptCuts, results, parts: keptParts };
}

/** An error from a range, with its line made absolute (ranges count lines from their own start). */
function located(e: unknown, source: string, lineAtStart: number): Error {
  const f = e instanceof RangeFailed ? e.failure : describeFailure(e);
  if (f.input) {
    const line = f.input.line === undefined ? undefined : lineAtStart + f.input.line - 1;
    return new InputError(source, f.input.detail, { line, offset: f.input.offset, column: f.input.column });
  }
  return new ClariguardError(f.message, { exitCode: f.exitCode, code: f.code });
}

/** Appends the ranges' part files after the first range (already streamed) and merges the counts. */
async function assemble(p: PhaseResult, output: Writable): Promise<RedactionReport> {
  const govern = memoryGovernor(GC_RSS_THRESHOLD);
  const [first, ...rest] = p.results;
  const report = structuredClone(first!.report!);
  let bytesOut = first!.bytesOut;
  let hasRecords = first!.json ? !first!.json.sectionFirst : false;
  for (let k = 0; k < rest.length; k++) {
    const r = rest[k]!;
    const part = p.parts[k + 1]!;
    if (r.json?.ledByRecord && hasRecords) {
      if (!output.write(',')) await drainOrFail(output);
      bytesOut += 1;
    }
    if (r.json) hasRecords = r.json.changedSection ? !r.json.sectionFirst : hasRecords || !r.json.sectionFirst;
    let copied = 0;
    for await (const chunk of createReadStream(part, { highWaterMark: 1 << 20 })) {
      if (!output.write(chunk)) await drainOrFail(output);
      govern((copied += (chunk as Buffer).length));
    }
    rmSync(part, { force: true });
    bytesOut += r.bytesOut;
    mergeInto(report, r.report!);
  }
  report.bytesOut = bytesOut;
  return report;
}

function mergeInto(a: RedactionReport, b: RedactionReport): void {
  addReportCounts(a, b);
  // Every range started from the same merged roster, so the largest is the whole.
  a.roster.size = Math.max(a.roster.size, b.roster.size);
}
