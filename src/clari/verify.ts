import { Transform, type TransformCallback } from 'node:stream';
import { ClariApiError } from './errors.js';

/** Clari's period ids look like 2026_Q3; file names embed them (clari_export_forecast_x_2026_Q3_…). */
const PERIOD_IN_NAME = /(?:^|[^0-9])(\d{4}_Q[1-4])(?![0-9])/;

/**
 * Clari's own names (the job status example in the Revenue OpenAPI document) run more digits into the
 * quarter: `…_2021_Q12915_20210415_015255.json` is 2021_Q1. Read that way only when the name ends in the
 * `_YYYYMMDD_HHMMSS` stamp, so an arbitrary run of digits is not taken for a quarter.
 */
const PERIOD_BEFORE_STAMP = /(?:^|[^0-9])(\d{4}_Q[1-4])\d*_\d{8}_\d{6}(?:\.[A-Za-z]+)?$/;

export function periodFromFileName(name: string | undefined): string | undefined {
  return name ? (PERIOD_IN_NAME.exec(name)?.[1] ?? PERIOD_BEFORE_STAMP.exec(name)?.[1]) : undefined;
}

export function periodMismatch(requested: string, got: string, where: string): ClariApiError {
  return new ClariApiError({
    status: 0,
    code: 'period_mismatch',
    message: `asked for time period ${requested} but the export holds ${got} (${where})`,
    operation: 'verify export',
  });
}

export interface VerifyProgress {
  bytes: number;
  /** Records seen so far: elements of the top-level arrays (JSON) or lines after the header (CSV). */
  records: number;
}

const KEYS = [Buffer.from('"timePeriodId"'), Buffer.from('"timePeriod"')];
const CARRY = 256;

/**
 * Passes the results body through unchanged while checking it:
 *  - JSON: the document is structurally complete at the end (a body cut short by a proxy or a dropped
 *    connection that still ended "cleanly" is caught here, not by the reader downstream);
 *  - forecast exports: every `timePeriodId` (or flat `timePeriod`) value equals the requested period, because
 *    Clari silently exports the current quarter when it does not recognise the one asked for.
 * A failure destroys the stream with a ClariApiError, so nothing downstream commits.
 */
export class ResultsVerifier extends Transform {
  bytes = 0;
  records = 0;
  readonly periodsSeen = new Set<string>();
  private depth = 0;
  private inString = false;
  private escape = false;
  private started = false;
  private docClosed = false;
  /** The open depth-2 container is an array (a section such as entries[]), so its elements are records. */
  private arrayAt2 = false;
  private trailingGarbage = false;
  private carry: Buffer = Buffer.alloc(0);

  constructor(
    private readonly opts: { format: 'json' | 'csv'; expectedPeriod?: string; onProgress?: (p: VerifyProgress) => void },
  ) {
    super({ highWaterMark: 1 << 16 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    try {
      if (this.opts.format === 'json') {
        this.track(chunk);
        if (this.opts.expectedPeriod) this.scanPeriods(chunk);
      } else {
        for (let p = chunk.indexOf(0x0a); p >= 0; p = chunk.indexOf(0x0a, p + 1)) this.records++;
      }
    } catch (e) {
      cb(e as Error);
      return;
    }
    this.opts.onProgress?.({ bytes: this.bytes, records: this.opts.format === 'csv' ? Math.max(0, this.records - 1) : this.records });
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.scanCarry();
    } catch (e) {
      cb(e as Error);
      return;
    }
    if (this.opts.format === 'json' && (!this.started || !this.docClosed || this.inString || this.depth !== 0)) {
      cb(
        new ClariApiError({
          status: 200,
          code: 'results_truncated',
          message: `the JSON results end before the document is complete (after ${this.bytes} bytes)`,
          operation: 'download results',
        }),
      );
      return;
    }
    if (this.trailingGarbage) {
      cb(new ClariApiError({ status: 200, code: 'bad_response', message: 'the JSON results have data after the document', operation: 'download results' }));
      return;
    }
    cb();
  }

  private track(buf: Buffer): void {
    let depth = this.depth;
    let inString = this.inString;
    let escape = this.escape;
    const n = buf.length;
    let i = 0;
    while (i < n) {
      if (inString) {
        if (escape) {
          escape = false;
          i++;
          continue;
        }
        // Strings are most of an export: jump from quote to quote instead of walking every byte.
        let q = buf.indexOf(0x22, i);
        while (q >= 0) {
          let k = q - 1;
          while (k >= i && buf[k] === 0x5c) k--;
          if ((q - 1 - k) % 2 === 0) break; // an even run of backslashes: the quote is real
          q = buf.indexOf(0x22, q + 1);
        }
        if (q < 0) {
          let k = n - 1;
          while (k >= i && buf[k] === 0x5c) k--;
          escape = (n - 1 - k) % 2 === 1;
          i = n;
          break;
        }
        inString = false;
        i = q + 1;
        continue;
      }
      const c = buf[i];
      if (c === 0x22) {
        inString = true;
        this.started = true;
        if (this.docClosed && depth === 0) this.trailingGarbage = true;
      } else if (c === 0x7b || c === 0x5b) {
        if (this.docClosed && depth === 0) this.trailingGarbage = true;
        depth++;
        if (depth === 2) this.arrayAt2 = c === 0x5b;
        else if (depth === 3 && this.arrayAt2) this.records++;
        this.started = true;
      } else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 0) this.docClosed = true;
        if (depth < 0) this.trailingGarbage = true;
      } else if (c > 0x20 && depth === 0) {
        if (this.docClosed) this.trailingGarbage = true;
        else if (!this.started) {
          this.started = true; // a bare scalar document
          this.docClosed = true;
        }
      }
      i++;
    }
    this.depth = depth;
    this.inString = inString;
    this.escape = escape;
  }

  private scanPeriods(chunk: Buffer): void {
    const buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    // Only matches that start before the carry zone are complete for sure; the rest is rescanned next time.
    const limit = Math.max(0, buf.length - CARRY);
    for (const key of KEYS) {
      let p = buf.indexOf(key);
      while (p >= 0 && p < limit) {
        const value = readStringValue(buf, p + key.length);
        if (value !== undefined) this.checkPeriod(value);
        p = buf.indexOf(key, p + key.length);
      }
    }
    this.carry = Buffer.from(buf.subarray(limit));
  }

  /** The carry zone at the end of the body was not scanned yet. */
  private scanCarry(): void {
    if (!this.opts.expectedPeriod || this.opts.format !== 'json' || !this.carry.length) return;
    for (const key of KEYS) {
      let p = this.carry.indexOf(key);
      while (p >= 0) {
        const value = readStringValue(this.carry, p + key.length);
        if (value !== undefined) this.checkPeriod(value);
        p = this.carry.indexOf(key, p + key.length);
      }
    }
  }

  private checkPeriod(value: string): void {
    if (this.periodsSeen.size < 64) this.periodsSeen.add(value);
    if (value !== this.opts.expectedPeriod) throw periodMismatch(this.opts.expectedPeriod!, value, 'timePeriodId in the results');
  }
}

/** Reads `: "value"` after a key; undefined when it is not a short string value. */
function readStringValue(buf: Buffer, at: number): string | undefined {
  let i = at;
  while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0a || buf[i] === 0x0d)) i++;
  if (buf[i] !== 0x3a) return undefined;
  i++;
  while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0a || buf[i] === 0x0d)) i++;
  if (buf[i] !== 0x22) return undefined;
  const end = buf.indexOf(0x22, i + 1);
  if (end < 0 || end - i > 64) return undefined;
  return buf.subarray(i + 1, end).toString('utf8');
}
