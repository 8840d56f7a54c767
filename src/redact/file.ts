import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants as fsConstants, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { ConfigError, inputFileError, ioFailure, UsageError } from '../errors.js';
import { readOrCreateSecret, type SecretOptions } from '../secrets/index.js';
import type { SecretValue } from '../secrets/value.js';
import { AtomicFileWriter } from '../util/atomic.js';
import type { RedactionReport } from './engine.js';
import { formatFromName, NdjsonSplitter, sniffFormat, type RedactFormat } from './formats.js';
import { JsonScanner } from './json-scanner.js';
import type { Policy } from './policy.js';
import { detectPreset, presetPolicy, type ShapeHint } from './presets.js';
import { keyIdOf } from './pseudonym.js';
import { buildRedactor, type Redactor } from './redactor.js';
import { prewarmRangeWorkers, redactInRanges, releaseRangeWorkers } from './parallel.js';
import { quietOnBadInput, rosterScanner } from './ranges.js';

// Redacting a file or a stream: what the CLI runs. Kept apart from the package index so that a run with a
// preset does not load zod and yaml (the policy-file parser) at start-up; they load when a policy is read.

export const DEFAULT_KEY_REF = 'local:clariguard/pseudonym-key';

/**
 * The pseudonymisation key: 32 random bytes, stored base64 in a secret store, created on first use.
 * A value that is not canonical base64 of at least 16 bytes is used as its UTF-8 bytes (so a passphrase-like
 * key set by hand works too; the rule is deterministic, which the warehouse SQL relies on).
 */
export async function loadPseudonymKey(ref = DEFAULT_KEY_REF, opts?: SecretOptions): Promise<{ key: Buffer; keyId: string }> {
  const { value } = await readOrCreateSecret(ref, () => randomBytes(32).toString('base64'), opts);
  const key = pseudonymKeyFromSecret(value, ref);
  return { key, keyId: keyIdOf(key) };
}

/** The key bytes of a stored pseudonymisation key (the rule above), for a SecretValue read by the caller. */
export function pseudonymKeyFromSecret(value: SecretValue, ref = 'pseudonymisation key'): Buffer {
  const raw = value.reveal().trim();
  let key: Buffer;
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(raw) && raw.length % 4 === 0 && Buffer.from(raw, 'base64').length >= 16) key = Buffer.from(raw, 'base64');
  else key = Buffer.from(raw, 'utf8');
  if (key.length < 16) throw new ConfigError(`${ref}: the pseudonymisation key is shorter than 16 bytes`);
  return key;
}

export interface RedactStreamOptions {
  format?: RedactFormat;
  preset?: string;
  policy?: Policy;
  key: Buffer;
  sourceName?: string;
  /** A file holding the same data as `input`: read once beforehand for the roster (names seen anywhere). */
  rosterFrom?: string;
  /** Worker threads for JSON/NDJSON (0, the default: none). Requires the built package (dist/redact/worker.js). */
  threads?: number;
  /** Called with the size of each chunk read, by the roster pre-pass and by the redaction. */
  onInput?: (bytes: number) => void;
  /** Without `rosterFrom`: do not read each chunk's roster fields ahead of redacting it (`--single-pass`). */
  singlePass?: boolean;
}

const HEAD_BYTES = 256 * 1024;

/** Reads up to `n` bytes from the start of a stream and gives back a stream that still yields everything. */
async function peek(input: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    chunks.push(b);
    size += b.length;
  }
  const head = Buffer.concat(chunks);
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    }
  }
  return { head, stream: Readable.from(rest(), { objectMode: false }) };
}

/** Chooses the preset from the head of the input, or null when the head does not tell. */
function presetFromHead(head: Buffer, format: RedactFormat, source: string): string | null {
  const h = shapeFromHead(head, format, source);
  return h ? detectPreset(h) : null;
}

/** What the first bytes show of the shape (see ShapeHint); null when they are malformed. */
function shapeFromHead(head: Buffer, format: RedactFormat, source: string): ShapeHint | null {
  if (format === 'csv') {
    const nl = head.indexOf(0x0a);
    const line = head.subarray(head[0] === 0xef ? 3 : 0, nl < 0 ? head.length : nl).toString('utf8').replace(/\r$/, '');
    const cols = line.split(',').map((c) => c.replace(/^"|"$/g, '').trim());
    return { format, topKeys: [], section: null, recordKeys: cols };
  }
  const topKeys: string[] = [];
  let hint: ShapeHint | null = null;
  const found = new Error('found');
  try {
    const onRecord = (section: string | null, value: unknown): never => {
      hint = { format, topKeys, section, recordKeys: value && typeof value === 'object' ? Object.keys(value) : [] };
      throw found;
    };
    if (format === 'ndjson') {
      const s = new NdjsonSplitter(source, (v) => onRecord(null, v));
      s.push(head);
    } else {
      const s = new JsonScanner(source, {
        open() {},
        sectionStart(k) {
          topKeys.push(k);
        },
        sectionEnd() {},
        record: (section, value) => onRecord(section, value),
        value(k) {
          topKeys.push(k);
        },
        close() {},
      });
      s.push(head);
    }
  } catch (e) {
    if (e !== found) return null; // malformed: the real pass reports it with its location
  }
  return (hint ?? { format, topKeys, section: null, recordKeys: [] }) as ShapeHint;
}

/**
 * An explicit preset made for another shape lets names and emails through (its rules name other fields, and
 * a roster it never fills finds no names in free text), with exit 0. So when the first record clearly belongs
 * to another preset, the run is refused; a shape detection cannot place is left to the preset given.
 */
function checkExplicitPreset(presetName: string, head: Buffer, format: RedactFormat, source: string): void {
  const shape = shapeFromHead(head, format, source);
  if (!shape || (shape.recordKeys.length === 0 && shape.topKeys.length === 0)) return;
  const detected = detectPreset(shape);
  if (detected === null || detected === presetName) return;
  const keys = shape.recordKeys.length ? shape.recordKeys : shape.topKeys;
  const shown = keys.slice(0, 6).join(', ') + (keys.length > 6 ? ', …' : '');
  throw new UsageError(`${source}: looks like a ${detected} export (fields ${shown}), not ${presetName}: use --preset ${detected}, or a policy for this shape`);
}

/**
 * Redacts an export from `input` to `output`. Format and preset are detected when not given (from the
 * source name, then the first bytes and the first record); an undecidable shape is a UsageError.
 */
/** Format and policy from the options, else from the first bytes; `policy` null: decide on the first record. */
function chooseFormatAndPolicy(head: Buffer, options: Pick<RedactStreamOptions, 'format' | 'preset' | 'policy' | 'sourceName'>): { format: RedactFormat; policy: Policy | null; presetName: string | null } {
  const source = options.sourceName ?? '<stdin>';
  if (options.policy && options.preset) throw new UsageError('give either a policy or a preset, not both');
  const format = options.format ?? formatFromName(options.sourceName) ?? sniffFormat(head);
  if (!format) throw new UsageError(`${source}: cannot tell whether this is JSON, NDJSON or CSV; pass --format`);
  if (options.policy) return { format, policy: options.policy, presetName: null };
  if (options.preset) {
    checkExplicitPreset(options.preset, head, format, source);
    return { format, policy: presetPolicy(options.preset), presetName: options.preset };
  }
  const presetName = presetFromHead(head, format, source);
  return { format, policy: presetName ? presetPolicy(presetName) : null, presetName };
}

export async function redactStream(input: Readable, output: Writable, options: RedactStreamOptions): Promise<RedactionReport> {
  const source = options.sourceName ?? '<stdin>';
  const { head, stream } = await peek(input, HEAD_BYTES);
  const chosen = chooseFormatAndPolicy(head, options);
  const { format, presetName } = chosen;
  // Without a policy the head did not show a record yet (a huge first value): decide on the first record.
  const autoPreset = chosen.policy === null;
  // Decided on the first record: a placeholder until then (zod is loaded only here, not for presets).
  const policy = chosen.policy ?? (await import('./policy.js')).parsePolicy({ rules: [] });
  const redactor = buildRedactor(policy, options.key, { sourceName: source, presetName, autoPreset, threads: options.threads, onInput: options.onInput });
  if (options.rosterFrom && !autoPreset) await rosterPrepass(redactor, options.rosterFrom, format, options.onInput);
  else if (!options.singlePass && !autoPreset && redactor.engine.rosterRules().length > 0) {
    await pipeline(stream, rosterAhead(redactor, format), redactor.transform(format), output);
    return redactor.report();
  }
  await pipeline(stream, redactor.transform(format), output);
  return redactor.report();
}

/**
 * A stream cannot be read twice (stdin): each chunk's roster fields are read just before the redaction sees
 * the chunk, so a name in free text before its owner's field in the same record (`subject` before
 * `participants[]`), or in an earlier record of the same chunk, is still found. A record cut across chunks
 * is completed in the roster scanner before the redaction can complete it. Bad input ends this quietly; the
 * redaction names the error.
 */
function rosterAhead(redactor: Redactor, format: RedactFormat): Transform {
  const scanner = quietOnBadInput(rosterScanner(redactor.engine, format));
  return new Transform({
    transform(chunk: Buffer | string, _enc, cb) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      try {
        scanner.push(b);
      } catch (e) {
        cb(e as Error);
        return;
      }
      cb(null, b);
    },
    flush(cb) {
      try {
        scanner.end();
      } catch (e) {
        cb(e as Error);
        return;
      }
      cb();
    },
  });
}

/**
 * Fills the roster before the real pass, so a name mentioned in free text before its owner's record (entries
 * before users[]) is still found. Only the fields of roster rules are read; nothing is written.
 */
export async function rosterPrepass(redactor: Redactor, file: string, format: RedactFormat, onInput?: (bytes: number) => void): Promise<void> {
  const engine = redactor.engine;
  if (engine.rosterRules().length === 0) return;
  engine.report.roster.prepass = true;
  const scanner = rosterScanner(engine, format);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    scanner.push(chunk as Buffer);
    onInput?.((chunk as Buffer).length);
  }
  scanner.end();
  // Pseudonyms that depend on the roster (`as: auto`) are decided again with the whole roster.
  engine.clearRuleCaches();
}

export interface RedactFileOptions {
  in?: string;
  out?: string;
  format?: RedactFormat;
  preset?: string;
  policyFile?: string;
  policy?: Policy;
  key: Buffer;
  /** Skip the roster pre-pass over an input file (one pass only; names are then known once seen). */
  singlePass?: boolean;
  /**
   * Threads for a file input (default: one per CPU, up to 8, for files of 16 MB and more, but one for JSON and
   * NDJSON on fewer than 4 CPUs; 0 or 1: this thread only; CLARIGUARD_REDACT_THREADS overrides). For stdin, a
   * number above 0 starts a pool of record workers.
   */
  threads?: number;
  stdin?: Readable;
  stdout?: Writable;
  /**
   * Progress: bytes of work done and the total when it is known (a file: its size once per pass, so twice with
   * the roster pre-pass; stdin: null).
   */
  onProgress?: (done: number, total: number | null) => void;
}

/** Files smaller than this are read by one thread: starting a worker costs more than it saves. */
const PARALLEL_MIN_BYTES = 16 * 1024 * 1024;

function defaultThreads(): number {
  const forced = process.env.CLARIGUARD_REDACT_THREADS;
  if (forced !== undefined && /^\d+$/.test(forced)) return Number(forced);
  return Math.min(availableParallelism(), 8);
}

/**
 * The parallel path for a regular file: null when it does not apply (small file, policy only decidable on
 * a later record, or a layout that cannot be cut), and the caller reads the file in one thread.
 */
async function redactFileInRanges(
  file: string,
  output: Writable,
  o: RedactFileOptions & { policy?: Policy; size: number; threadCount: number; sourceName: string; tmpDir: string; onInput?: (bytes: number) => void },
): Promise<RedactionReport | null> {
  const size = o.size;
  const head = readHead(file, HEAD_BYTES);
  const chosen = chooseFormatAndPolicy(head, { format: o.format, preset: o.preset, policy: o.policy, sourceName: o.sourceName });
  if (!chosen.policy || !cutIntoRanges(o, size, chosen.format)) return null;
  return redactInRanges({ file, size, head, format: chosen.format, policy: chosen.policy, presetName: chosen.presetName, key: o.key, source: o.sourceName, output, threads: o.threadCount, tmpDir: o.tmpDir, onInput: o.onInput });
}

/**
 * Starts the threads a redactFile() with these options will most likely cut its input for, so they load while
 * the caller does its own start-up (reading the key from its store). Optional: redactFile starts what it
 * needs itself, and ends any thread started here that it did not use.
 */
export function prewarmRedaction(o: Pick<RedactFileOptions, 'in' | 'singlePass' | 'threads'>): void {
  if (!o.in || o.in === '-') return;
  let size: number;
  try {
    const st = statSync(o.in);
    if (!st.isFile()) return;
    size = st.size;
  } catch {
    return;
  }
  if (cutIntoRanges(o, size, formatFromName(o.in))) prewarmRangeWorkers((o.threads ?? defaultThreads()) - 1);
}

/**
 * Whether a file input of `size` bytes in `format` (null: not known yet) is cut into ranges for threads: not in
 * one pass or with one thread, a small file only when threads were asked for, and JSON/NDJSON only where its
 * ranges pay or threads were asked for.
 */
function cutIntoRanges(o: Pick<RedactFileOptions, 'singlePass' | 'threads'>, size: number, format: RedactFormat | null): boolean {
  if (o.singlePass || (o.threads ?? defaultThreads()) < 2) return false;
  if (size < PARALLEL_MIN_BYTES && o.threads === undefined && !process.env.CLARIGUARD_REDACT_THREADS) return false;
  return format === null || format === 'csv' || o.threads !== undefined || jsonRangesPay();
}

/**
 * Whether a JSON/NDJSON file is cut into ranges when no thread count was asked for. With the WebAssembly byte
 * path one thread redacts 70-100 MB/s here, and on two vCPUs, which slow each other down by ~40%, the ranges
 * (a roster phase in each, a part file copied at the end) cost more than they save: measured on the 274 MB
 * bench file, one thread 3.6-4.6 s against 4.0-4.7 s for two. From four CPUs on the ranges are used. CSV,
 * read in JavaScript, still gains from two threads.
 */
function jsonRangesPay(): boolean {
  if (process.env.CLARIGUARD_REDACT_THREADS !== undefined || process.env.CLARIGUARD_REDACT_WASM === '0') return true;
  return availableParallelism() >= JSON_RANGES_MIN_CPUS;
}
const JSON_RANGES_MIN_CPUS = 4;

function readHead(file: string, n: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.allocUnsafe(n);
    return b.subarray(0, readSync(fd, b, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/**
 * Fails early, with one line, when `target`'s directory is missing or not writable: found only when the
 * output is opened, it would surface after the whole input was read (or, for the output stream, as an
 * unhandled stream error), and a report that cannot be written would leave the output behind.
 */
export function checkWritableTarget(target: string, what: string): void {
  const dir = dirname(target);
  let code: string | undefined;
  try {
    if (!statSync(dir).isDirectory()) code = 'ENOTDIR';
    else accessSync(dir, fsConstants.W_OK);
  } catch (e) {
    code = (e as NodeJS.ErrnoException).code ?? 'error';
  }
  if (code === undefined) return;
  throw ioFailure(`${target}: cannot write the ${what} (${code} for ${dir})`, code);
}

/**
 * What `clariguard redact` does: file or stdin in, file (atomically) or stdout out. On any error the output
 * file is not created, so there is never a half-redacted file.
 */
export async function redactFile(o: RedactFileOptions): Promise<RedactionReport> {
  if (o.policyFile && o.preset) throw new UsageError('use either --policy or --preset, not both');
  const policy = o.policy ?? (o.policyFile ? (await import('./policy.js')).loadPolicyFile(o.policyFile) : undefined);
  if (o.out && o.out !== '-') checkWritableTarget(o.out, 'output');
  let input: Readable;
  let size = 0;
  if (o.in && o.in !== '-') {
    try {
      const st = statSync(o.in);
      if (!st.isFile()) throw new UsageError(`${o.in} is not a file`);
      size = st.size;
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw inputFileError(o.in, e);
    }
    input = createReadStream(o.in, { highWaterMark: 1 << 20 });
  } else input = o.stdin ?? process.stdin;
  const sourceName = o.in && o.in !== '-' ? o.in : '<stdin>';
  const writer = o.out && o.out !== '-' ? new AtomicFileWriter(o.out, { mode: 0o600 }) : undefined;
  const output = writer ?? o.stdout ?? process.stdout;
  const threads = o.threads ?? defaultThreads();
  let done = 0;
  let total: number | null = null;
  if (o.in && o.in !== '-' && o.onProgress) {
    const policyForCount = policy ?? (o.preset ? presetPolicy(o.preset) : undefined);
    // Without an explicit policy the preset is only known later: assume the presets' roster pre-pass.
    total = o.singlePass || (policyForCount && !policyForCount.rules.some((r) => r.roster)) ? size : 2 * size;
  }
  const onInput = o.onProgress ? (bytes: number) => o.onProgress!((done += bytes), total === null ? null : Math.max(total, done)) : undefined;
  try {
    if (o.in && o.in !== '-' && cutIntoRanges(o, size, null)) {
      // o.threads stays what the caller asked for (undefined: the default), which cutIntoRanges reads.
      const report = await redactFileInRanges(o.in, output, { ...o, policy, size, threadCount: threads, sourceName, tmpDir: o.out && o.out !== '-' ? dirname(o.out) : tmpdir(), onInput });
      if (report) {
        input.destroy();
        if (writer) {
          writer.end();
          await finished(writer);
          await writer.commit();
        }
        return report;
      }
    }
    const report = await redactStream(input, output, {
      format: o.format ?? formatFromName(o.in) ?? undefined,
      preset: o.preset,
      policy,
      key: o.key,
      sourceName,
      rosterFrom: o.in && o.in !== '-' && !o.singlePass ? o.in : undefined,
      singlePass: o.singlePass,
      // Streams are read by one thread; the record worker pool for them is opt-in (--threads N, N > 1).
      threads: (o.threads ?? (process.env.CLARIGUARD_REDACT_THREADS ? defaultThreads() : 0)) > 1 ? threads : 0,
      onInput,
    });
    if (writer) await writer.commit();
    return report;
  } catch (e) {
    if (writer) await writer.abort();
    input.destroy();
    throw e;
  } finally {
    releaseRangeWorkers();
  }
}
