// Tables keyed by byte strings (a value's exact bytes in the input), so a repeated value is recognised
// without building a JS string: a hash of the bytes and a probe into flat typed arrays.

export const FNV_OFFSET = 0x811c9dc5 | 0;
export const FNV_PRIME = 0x01000193;
/** Entries per table before it starts over (bounds memory on high-cardinality fields). */
const TABLE_LIMIT = 1 << 15;
/** Arena bytes per table before it starts over. */
const ARENA_LIMIT = 4 << 20;

/** FNV-1a of b[s, e). */
export function hashBytes(b: Uint8Array, s: number, e: number): number {
  let h = FNV_OFFSET;
  for (let k = s; k < e; k++) h = Math.imul(h ^ b[k]!, FNV_PRIME);
  return h;
}

/** A hash of the bytes [s, e) of the memory `v` views, four bytes at a time (for ValueTable#findIn). */
export function hashView(v: DataView, s: number, e: number): number {
  let h = FNV_OFFSET ^ (e - s);
  let j = s;
  const e4 = e - 3;
  for (; j < e4; j += 4) {
    h = Math.imul(h ^ v.getUint32(j, true), FNV_PRIME);
    h ^= h >>> 15;
  }
  for (; j < e; j++) h = Math.imul(h ^ v.getUint8(j), FNV_PRIME);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  return h ^ (h >>> 13);
}

/**
 * Remembered values of one field, in flat typed arrays (open addressing, linear probing): key and
 * replacement bytes live in one arena, so a probe touches a few cache lines and no objects.
 */
export class ValueTable {
  private mask = 63;
  private size = 0;
  private hashes = new Int32Array(64);
  /** Key length; 0: an empty slot (a JSON value is never empty). */
  private keyLen = new Int32Array(64);
  private keyOff = new Int32Array(64);
  kind = new Int8Array(64);
  outOff = new Int32Array(64);
  outLen = new Int32Array(64);
  /** Roster version the outcome was decided with; -1 when the roster plays no part. */
  ver = new Int32Array(64);
  epoch = new Int32Array(64);
  /** Per occurrence: what the field's rule count grows by. */
  ruleDelta = new Int32Array(64);
  /** Per occurrence, other counts (index into `others`); -1: none. */
  otherIdx = new Int32Array(64);
  others: Int32Array[] = [];
  arena = new Uint8Array(4096);
  /** A DataView of the arena, for ByteOut#copy. */
  arenaView: DataView = new DataView(this.arena.buffer);
  private arenaLen = 0;

  /**
   * The table gave up: it filled up while fewer values were found again than were new (a field whose values
   * rarely repeat, such as ids or free text), so it remembers nothing more and holds no memory.
   */
  off = false;
  private hits = 0;
  private inserts = 0;

  /** The slot holding b[s, e), or -1. */
  find(b: Uint8Array, s: number, e: number, h: number): number {
    if (this.off) return -1;
    const n = e - s;
    const hashes = this.hashes;
    const lens = this.keyLen;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const len = lens[i]!;
      if (len === 0) return -1;
      if (len === n && hashes[i] === h) {
        const a = this.arena;
        let k = this.keyOff[i]!;
        let j = s;
        while (j < e && a[k] === b[j]) {
          k++;
          j++;
        }
        if (j === e) {
          this.hits++;
          return i;
        }
      }
    }
  }

  /**
   * find() for the bytes [s, e) of the memory `src` views (see viewOf), comparing four bytes at a time. For
   * callers that hash with hashView: any hash works, as long as one table always gets the same one.
   */
  findIn(src: DataView, s: number, e: number, h: number): number {
    if (this.off) return -1;
    const n = e - s;
    const hashes = this.hashes;
    const lens = this.keyLen;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const len = lens[i]!;
      if (len === 0) return -1;
      if (len === n && hashes[i] === h && this.holds(i, src, s, e)) {
        this.hits++;
        return i;
      }
    }
  }

  /**
   * Whether `slot` (found before, in this `generation`) still holds the bytes [s, e) of `src`: a value often
   * repeats the one before it, and this needs no hash and no probe.
   */
  recall(slot: number, src: DataView, s: number, e: number): boolean {
    if (this.keyLen[slot] !== e - s || !this.holds(slot, src, s, e)) return false;
    this.hits++;
    return true;
  }

  private holds(i: number, src: DataView, s: number, e: number): boolean {
    const a = this.arenaView;
    let k = this.keyOff[i]!;
    let j = s;
    const e4 = e - 3;
    while (j < e4) {
      if (a.getUint32(k) !== src.getUint32(j)) return false;
      j += 4;
      k += 4;
    }
    while (j < e) if (a.getUint8(k++) !== src.getUint8(j++)) return false;
    return true;
  }

  /** A new slot for b[s, e) (not present), its outcome to be set by the caller; -1 when the table is off. */
  insert(b: Uint8Array, s: number, e: number, h: number): number {
    if (this.off) return -1;
    if (this.size >= TABLE_LIMIT || this.arenaLen >= ARENA_LIMIT) {
      if (this.hits < this.inserts) {
        this.off = true;
        this.reset(64);
        return -1;
      }
      this.reset(this.mask + 1);
      this.hits = this.inserts = 0;
    }
    this.inserts++;
    if (2 * (this.size + 1) > this.mask + 1) this.rehash(2 * (this.mask + 1));
    let i = h & this.mask;
    while (this.keyLen[i] !== 0) i = (i + 1) & this.mask;
    this.hashes[i] = h;
    this.keyLen[i] = e - s;
    this.keyOff[i] = this.store(b, s, e);
    this.size++;
    return i;
  }

  /** Copies bytes into the arena; returns their offset. */
  store(b: Uint8Array, s: number, e: number): number {
    const n = e - s;
    if (this.arenaLen + n > this.arena.length) {
      const next = new Uint8Array(Math.max(2 * this.arena.length, this.arenaLen + n));
      next.set(this.arena.subarray(0, this.arenaLen));
      this.arena = next;
      this.arenaView = new DataView(next.buffer);
    }
    const off = this.arenaLen;
    this.arena.set(b.subarray(s, e), off);
    this.arenaLen += n;
    return off;
  }

  /** Bumped whenever the table starts over (slots no longer mean what they meant). */
  generation = 0;

  private reset(cap: number): void {
    this.generation++;
    this.alloc(cap);
    this.size = 0;
    this.others = [];
    this.arena = new Uint8Array(4096);
    this.arenaView = new DataView(this.arena.buffer);
    this.arenaLen = 0;
  }

  private alloc(cap: number): void {
    this.mask = cap - 1;
    this.hashes = new Int32Array(cap);
    this.keyLen = new Int32Array(cap);
    this.keyOff = new Int32Array(cap);
    this.kind = new Int8Array(cap);
    this.outOff = new Int32Array(cap);
    this.outLen = new Int32Array(cap);
    this.ver = new Int32Array(cap);
    this.epoch = new Int32Array(cap);
    this.ruleDelta = new Int32Array(cap);
    this.otherIdx = new Int32Array(cap);
  }

  private rehash(cap: number): void {
    const o = { ...this };
    this.alloc(cap);
    for (let j = 0; j < o.keyLen.length; j++) {
      if (o.keyLen[j] === 0) continue;
      let i = o.hashes[j]! & this.mask;
      while (this.keyLen[i] !== 0) i = (i + 1) & this.mask;
      this.hashes[i] = o.hashes[j]!;
      this.keyLen[i] = o.keyLen[j]!;
      this.keyOff[i] = o.keyOff[j]!;
      this.kind[i] = o.kind[j]!;
      this.outOff[i] = o.outOff[j]!;
      this.outLen[i] = o.outLen[j]!;
      this.ver[i] = o.ver[j]!;
      this.epoch[i] = o.epoch[j]!;
      this.ruleDelta[i] = o.ruleDelta[j]!;
      this.otherIdx[i] = o.otherIdx[j]!;
    }
  }
}

