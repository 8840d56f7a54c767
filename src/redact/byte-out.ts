/** Where output goes: text, or runs of bytes (a record copied from the input with values replaced). */
export interface OutSink {
  str(s: string): void;
  bytes(b: Uint8Array, s: number, e: number): void;
  /** The sink's own buffer, when records may be written into it directly (then `after` is called). */
  readonly acc?: ByteOut;
  /** Called after a record was written into `acc`. */
  after?(): void;
}

/**
 * Output bytes accumulated in one growing buffer: strings are encoded straight into it and byte runs of the
 * input are copied in, so a record that is mostly unchanged source never becomes a JS string.
 */
export class ByteOut implements OutSink {
  buf: Buffer;
  len = 0;
  private dv: DataView;
  constructor(private readonly initial = 1 << 16) {
    this.buf = Buffer.allocUnsafeSlow(initial);
    this.dv = viewOf(this.buf);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
    this.dv = viewOf(next);
  }

  /**
   * Copies bytes [s, e) of the array `src` views (see viewOf), four at a time. For the short runs a record
   * is made of this is about twice as fast as a byte loop and, unlike TypedArray#set, allocates no view.
   */
  copy(src: DataView, s: number, e: number): void {
    const n = e - s;
    this.ensure(n);
    const d = this.dv;
    let o = this.len;
    let i = s;
    const e4 = e - 3;
    while (i < e4) {
      d.setUint32(o, src.getUint32(i));
      i += 4;
      o += 4;
    }
    while (i < e) d.setUint8(o++, src.getUint8(i++));
    this.len += n;
  }

  str(s: string): void {
    // A UTF-16 code unit is at most 3 bytes of UTF-8.
    this.ensure(3 * s.length);
    this.len += this.buf.write(s, this.len, 'utf8');
  }

  /** Copies src[s, e). Short runs are copied in a loop: below ~48 bytes that beats making a view to set(). */
  bytes(src: Uint8Array, s: number, e: number): void {
    const n = e - s;
    this.ensure(n);
    const b = this.buf;
    let o = this.len;
    if (n < 48) for (let i = s; i < e; i++) b[o++] = src[i]!;
    else b.set(new Uint8Array(src.buffer, src.byteOffset + s, n), o);
    this.len += n;
  }

  /** The bytes so far as a view (valid until the next write) and an empty accumulator. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.len);
    this.len = 0;
    return out;
  }

  /** The bytes so far in a buffer of their own (for a consumer that keeps it) and an empty accumulator. */
  takeCopy(): Buffer {
    const out = Buffer.allocUnsafe(this.len);
    this.buf.copy(out, 0, 0, this.len);
    this.len = 0;
    // A record far bigger than usual grew the buffer: do not keep holding that much.
    if (this.buf.length > 4 * this.initial && this.buf.length > 64 << 20) {
      this.buf = Buffer.allocUnsafeSlow(this.initial);
      this.dv = viewOf(this.buf);
    }
    return out;
  }
}

/**
 * A DataView of the whole memory a buffer lives in (kept while the next buffers share that memory, as the
 * lines of one chunk do) and the buffer's offset in it: byte i of the buffer is view byte off + i.
 */
export class MemoryView {
  view: DataView = new DataView(new ArrayBuffer(0));
  off = 0;
  private viewed: ArrayBufferLike | null = null;
  private last: Uint8Array | null = null;
  see(b: Uint8Array): void {
    // Records of one chunk come in the same buffer: no `.buffer` lookup (a runtime call) for each.
    if (b === this.last) return;
    this.last = b;
    if (b.buffer !== this.viewed) {
      this.viewed = b.buffer;
      this.view = new DataView(b.buffer);
    }
    this.off = b.byteOffset;
  }
}

/** A DataView over exactly the bytes of `a` (index i of the view is a[i]). */
export function viewOf(a: Uint8Array): DataView {
  return new DataView(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * An OutSink that collects output in its own buffer (records are written into `acc` directly) and hands it on
 * through `flush` whenever it holds `batch` bytes (never, with Infinity: the owner flushes).
 */
export abstract class BatchingSink implements OutSink {
  readonly acc: ByteOut;
  constructor(
    private readonly batch: number,
    room: number,
  ) {
    this.acc = new ByteOut(room);
  }
  str(s: string): void {
    this.acc.str(s);
    this.after();
  }
  bytes(b: Uint8Array, s: number, e: number): void {
    this.acc.bytes(b, s, e);
    this.after();
  }
  after(): void {
    if (this.acc.len >= this.batch) void this.flush();
  }
  abstract flush(): void | Promise<void>;
}
