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
 * The fields of a slot, interleaved in ValueTable#slots (a slot is the index of its first field): a lookup
 * and the outcome it finds share one or two cache lines, where one array per field cost a miss per field
 * once a table outgrew the cache.
 */
export const enum Slot {
  Hash = 0,
  /** Key length; 0: an empty slot (a remembered value is never empty). */
  KeyLen = 1,
  KeyOff = 2,
  /** The outcome's kind (the caller's codes). */
  Kind = 3,
  OutOff = 4,
  OutLen = 5,
  /** Roster version the outcome was decided with; -1 when the roster plays no part. */
  Ver = 6,
  /** The engine's cache epoch the outcome was decided in. */
  Epoch = 7,
  /** Per occurrence: what the field's rule count grows by. */
  RuleDelta = 8,
  /** Per occurrence, other counts (index into `others`); -1: none. */
  Other = 9,
}
const STRIDE = 10;

/**
 * Remembered values of one field: open addressing with linear probing over one flat Int32Array, the key and
 * output bytes in one arena (an output is stored right after its key), so a probe touches a few cache lines
 * and no objects.
 */
export class ValueTable {
  private mask = 63;
  private size = 0;
  /** The slots' fields (see Slot); re-read after insert(), which may move them. */
  slots = new Int32Array(64 * STRIDE);
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

  /**
   * The slot holding the bytes [s, e) of the memory `src` views (see MemoryView), or -1; keys are compared four
   * bytes at a time. Any hash of the bytes works (hashBytes, hashView) as long as a table always gets the same.
   */
  findIn(src: DataView, s: number, e: number, h: number): number {
    if (this.off) return -1;
    const n = e - s;
    const a = this.slots;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const slot = i * STRIDE;
      const len = a[slot + Slot.KeyLen]!;
      if (len === 0) return -1;
      if (len === n && a[slot + Slot.Hash] === h && this.holds(slot, src, s, e)) {
        this.hits++;
        return slot;
      }
    }
  }

  /** The hash of the bytes the last lookup() hashed (for insert()); not set when it recalled `hint`. */
  hashed = 0;

  /**
   * The slot holding the bytes [s, e) of `src` (hashed with hashView), or -1: `hint`, a slot found before,
   * when it still holds them (a value often repeats the one before it), else a probe.
   */
  lookup(src: DataView, s: number, e: number, hint: number): number {
    if (hint >= 0 && this.recall(hint, src, s, e)) return hint;
    this.hashed = hashView(src, s, e);
    return this.findIn(src, s, e, this.hashed);
  }

  /**
   * Whether `slot` (found before) still holds the bytes [s, e) of `src`: a value often repeats the one before
   * it, and this needs no hash and no probe. Safe after the table moved its slots: the key is compared.
   */
  recall(slot: number, src: DataView, s: number, e: number): boolean {
    if (slot >= this.slots.length || this.slots[slot + Slot.KeyLen] !== e - s || !this.holds(slot, src, s, e)) return false;
    this.hits++;
    return true;
  }

  private holds(slot: number, src: DataView, s: number, e: number): boolean {
    const v = this.arenaView;
    let k = this.slots[slot + Slot.KeyOff]!;
    let j = s;
    const e4 = e - 3;
    while (j < e4) {
      if (v.getUint32(k) !== src.getUint32(j)) return false;
      j += 4;
      k += 4;
    }
    while (j < e) if (v.getUint8(k++) !== src.getUint8(j++)) return false;
    return true;
  }

  /** Whether the outcome in `slot` still holds in this cache epoch with this roster version. */
  current(slot: number, epoch: number, rosterVersion: number): boolean {
    const a = this.slots;
    if (a[slot + Slot.Epoch] !== epoch) return false;
    const v = a[slot + Slot.Ver]!;
    return v < 0 || v === rosterVersion;
  }

  /**
   * Sets the outcome of `slot`: its kind, its output bytes out[0, len) (null: none), the roster version and
   * epoch it holds for, and the counts each occurrence adds. A new output goes where the slot's old one was
   * when it fits (decided again as the roster grew), else into the arena.
   */
  settle(slot: number, kind: number, out: Uint8Array | null, len: number, ver: number, epoch: number, ruleDelta: number, other: Int32Array | null): void {
    if (out !== null) {
      let off: number;
      if (this.slots[slot + Slot.OutLen]! >= len) {
        off = this.slots[slot + Slot.OutOff]!;
        this.arena.set(out.subarray(0, len), off);
      } else off = this.store(out, 0, len);
      this.slots[slot + Slot.OutOff] = off;
      this.slots[slot + Slot.OutLen] = len;
    }
    const a = this.slots;
    a[slot + Slot.Kind] = kind;
    a[slot + Slot.Ver] = ver;
    a[slot + Slot.Epoch] = epoch;
    a[slot + Slot.RuleDelta] = ruleDelta;
    if (other !== null) {
      a[slot + Slot.Other] = this.others.length;
      this.others.push(other);
    } else a[slot + Slot.Other] = -1;
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
    const a = this.slots;
    let i = h & this.mask;
    while (a[i * STRIDE + Slot.KeyLen] !== 0) i = (i + 1) & this.mask;
    const slot = i * STRIDE;
    a[slot + Slot.Hash] = h;
    a[slot + Slot.KeyLen] = e - s;
    a[slot + Slot.KeyOff] = this.store(b, s, e);
    this.size++;
    return slot;
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
    this.mask = cap - 1;
    this.slots = new Int32Array(cap * STRIDE);
    this.size = 0;
    this.others = [];
    this.arena = new Uint8Array(4096);
    this.arenaView = new DataView(this.arena.buffer);
    this.arenaLen = 0;
  }

  private rehash(cap: number): void {
    const old = this.slots;
    const a = new Int32Array(cap * STRIDE);
    const mask = cap - 1;
    for (let j = 0; j < old.length; j += STRIDE) {
      if (old[j + Slot.KeyLen] === 0) continue;
      let i = old[j + Slot.Hash]! & mask;
      while (a[i * STRIDE + Slot.KeyLen] !== 0) i = (i + 1) & mask;
      a.set(old.subarray(j, j + STRIDE), i * STRIDE);
    }
    this.slots = a;
    this.mask = mask;
  }
}
