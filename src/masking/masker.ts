import { Transform, type TransformCallback } from 'node:stream';
import { secretVariants, wrappedBase64Variants } from './variants.js';

export const MASK = '***';

/**
 * Replaces every occurrence of a set of byte patterns. Works on Buffers so binary output passes
 * through untouched apart from the masked spans.
 */
export class PatternSet {
  readonly patterns: Buffer[];
  readonly maxLength: number;
  private readonly firstBytes: Uint8Array;

  constructor(patterns: Iterable<string | Buffer>) {
    const uniq = new Map<string, Buffer>();
    for (const p of patterns) {
      const b = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
      if (b.length > 0) uniq.set(b.toString('latin1'), b);
    }
    this.patterns = [...uniq.values()].sort((a, b) => b.length - a.length);
    this.maxLength = this.patterns.reduce((m, p) => Math.max(m, p.length), 0);
    this.firstBytes = new Uint8Array(256);
    for (const p of this.patterns) this.firstBytes[p[0]] = 1;
  }

  static forSecrets(values: Iterable<string>): PatternSet {
    const all: string[] = [];
    for (const v of values) all.push(...secretVariants(v), ...wrappedBase64Variants(v));
    return new PatternSet(all);
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** Masks complete matches in `buf`. Returns the masked buffer. */
  maskBuffer(buf: Buffer, mask: Buffer = Buffer.from(MASK)): Buffer {
    if (this.empty) return buf;
    return this.mask(buf, mask, false).out;
  }

  /**
   * Masks `buf` as `maskBuffer` would, up to the first position where a match longer than the bytes left
   * could still be in progress; those bytes are held back raw (`hold`) so the decision there waits for the
   * next chunk. Chunked input thus masks exactly as the same bytes in one buffer: a shorter pattern that
   * is complete (unpadded base64, a second secret that is a prefix of the first) cannot win early.
   */
  maskStreaming(buf: Buffer, mask: Buffer = Buffer.from(MASK)): { out: Buffer; hold: number } {
    if (this.empty) return { out: buf, hold: 0 };
    return this.mask(buf, mask, true);
  }

  private mask(buf: Buffer, mask: Buffer, streaming: boolean): { out: Buffer; hold: number } {
    const parts: Buffer[] = [];
    let start = 0;
    let i = 0;
    const n = buf.length;
    outer: while (i < n) {
      if (this.firstBytes[buf[i]] === 1) {
        if (streaming && n - i < this.maxLength && this.couldExtend(buf, i)) break;
        for (const p of this.patterns) {
          if (p.length <= n - i && buf[i + p.length - 1] === p[p.length - 1] && buf.compare(p, 0, p.length, i, i + p.length) === 0) {
            if (i > start) parts.push(buf.subarray(start, i));
            parts.push(mask);
            i += p.length;
            start = i;
            continue outer;
          }
        }
      }
      i++;
    }
    if (start === 0 && i === n) return { out: buf, hold: 0 };
    if (i > start) parts.push(buf.subarray(start, i));
    return { out: parts.length === 1 ? parts[0]! : Buffer.concat(parts), hold: n - i };
  }

  /** True when the bytes from `i` to the end are a proper prefix of some pattern. */
  private couldExtend(buf: Buffer, i: number): boolean {
    const len = buf.length - i;
    for (const p of this.patterns) if (p.length > len && p.compare(buf, i, buf.length, 0, len) === 0) return true;
    return false;
  }

  maskString(s: string): string {
    if (this.empty || s.length === 0) return s;
    return this.maskBuffer(Buffer.from(s, 'utf8')).toString('utf8');
  }
}

/**
 * A Transform that masks secrets in a byte stream, including a secret split across chunk boundaries
 * (even one byte per write). It withholds only the bytes that could still be the start of a secret and
 * releases them as soon as the next chunk proves otherwise, or at end of stream.
 */
export class MaskingStream extends Transform {
  private carry: Buffer = Buffer.alloc(0);
  constructor(private readonly patterns: PatternSet) {
    super();
  }

  override _transform(chunk: Buffer | string, _enc: BufferEncoding, cb: TransformCallback): void {
    const incoming = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.patterns.empty) {
      cb(null, incoming);
      return;
    }
    const buf = this.carry.length ? Buffer.concat([this.carry, incoming]) : incoming;
    // The carry is raw bytes where a match may still be in progress, never already-masked output.
    const { out, hold } = this.patterns.maskStreaming(buf);
    this.carry = Buffer.from(buf.subarray(buf.length - hold));
    if (out.length) this.push(out);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.carry.length) this.push(this.patterns.maskBuffer(this.carry));
    this.carry = Buffer.alloc(0);
    cb();
  }
}
