import { isUtf8 } from 'node:buffer';
import { ByteOut, MemoryView, viewOf } from './byte-out.js';
import { FNV_OFFSET, FNV_PRIME, hashBytes, Slot, ValueTable } from './byte-table.js';
import { addOtherCounts, countsSince } from './count-delta.js';
import { DROP, SAME, type PathNode, type RecordRedactor } from './engine.js';
import type { Rule } from './policy.js';

// The byte path for flat records (every member a string, number, true, false or null): the record's bytes are
// copied to the output with only the changed values replaced, and the outcome for each value is remembered
// by its bytes, per field. Exports repeat the same people, periods and amounts on every row, so after the
// first sight a value costs a hash of its bytes and a table probe: no JS string, no Map of strings, no
// re-encoding. The first sight goes through the engine's text path (rewriteValueText), so the outcome and
// the counts are the engine's own; anything else (a nested object or array, an escaped key, a rule on the
// whole record) is left to the text path, whose output this matches byte for byte (tests pin both).

export const enum ByteResult {
  /** The record's output is in `out`. */
  Done = 1,
  /** Not a record this path reads: use the text path. */
  NotHandled = 0,
  /** Not JSON: the parser names the error. */
  Syntax = -1,
}

/** Per-field state: remembered values and the member keys seen at each position. */
export interface NodeBytes {
  table: ValueTable;
  /** The key bytes the last record had at each member position, and their nodes. */
  order: (MemberKey | undefined)[];
  /** Records in a row this path could not take (nested shapes); only for a section's root node. */
  misses: number;
  /** Roster pre-pass: values of this roster field already collected. */
  seen?: ValueTable;
}

interface RuleStateLike {
  n: number;
}

/** Values longer than this are rarely repeated (free text): decided every time, not remembered. */
export const MAX_REMEMBERED = 256;

// What a value becomes (value()'s answer; the table's `kind`).
const SAME_V = 0;
const REPLACED_V = 1;
const DROP_V = 2;
const SYNTAX_V = -1;
const UNHANDLED_V = -2;

/**
 * The key remembered at member position `idx` when the key at b[p] ('"') has the same bytes (compared four at a
 * time through `bv`, the view of b's memory at offset bOff); else undefined. Records repeat their layout.
 */
export function sameKeyAsBefore(nb: NodeBytes, idx: number, b: Buffer, bv: DataView, bOff: number, p: number, end: number): MemberKey | undefined {
  const o = nb.order[idx];
  if (o === undefined) return undefined;
  const k = o.key;
  const len = k.length;
  if (p + len + 1 >= end || b[p + len + 1] !== 0x22) return undefined;
  const kv = o.view;
  const at = p + 1;
  let j = 0;
  while (j + 4 <= len && kv.getUint32(j) === bv.getUint32(bOff + at + j)) j += 4;
  if (j + 4 > len) while (j < len && k[j] === b[at + j]) j++;
  return j === len ? o : undefined;
}

/** The node of the (unescaped) key b[s, e) under `n`, remembered for member position `idx`. */
export function learnKey(engine: RecordRedactor, n: PathNode, nb: NodeBytes, idx: number, b: Buffer, s: number, e: number): PathNode {
  const node = engine.child(n, b.toString('utf8', s, e));
  // A copy: the read buffer is reused for the next chunk.
  const key = new Uint8Array(b.subarray(s, e));
  nb.order[idx] = { key, view: viewOf(key), node };
  return node;
}

interface MemberKey {
  key: Uint8Array;
  view: DataView;
  node: PathNode;
}

/** What the byte path and the roster walker share: a view of the input's memory, and whitespace. */
export class ByteWalker {
  /** Newlines inside the last record read. */
  lines = 0;
  // The input's memory (see MemoryView), copied to fields the hot loops read directly.
  private readonly mem = new MemoryView();
  protected bView: DataView = this.mem.view;
  protected bOff = 0;

  protected see(b: Buffer): void {
    this.mem.see(b);
    this.bView = this.mem.view;
    this.bOff = this.mem.off;
  }

  /** After memberKey: the index after the key's closing quote. */
  protected keyEnd = 0;

  /** The node of the key at b[p] when it is the key the last record had at this position (sets keyEnd). */
  protected knownKey(nb: NodeBytes, idx: number, b: Buffer, p: number, end: number): PathNode | null {
    const o = sameKeyAsBefore(nb, idx, b, this.bView, this.bOff, p, end);
    if (o === undefined) return null;
    this.keyEnd = p + o.key.length + 2;
    return o.node;
  }

  /** The first byte at or after p (before end) that is not whitespace; newlines are counted in `lines`. */
  protected ws(b: Buffer, p: number, end: number): number {
    while (p < end) {
      const c = b[p]!;
      if (c === 0x20) p++;
      else if (c === 0x0a) {
        this.lines++;
        p++;
      } else if (c === 0x0d || c === 0x09) p++;
      else break;
    }
    return p;
  }
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102));
}

/** Whether the outcome of a value at a field with this rule can change as the roster grows. */
export function dependsOnRoster(rule: Rule | null): boolean {
  if (!rule) return true; // an unknown field's strings go through the detectors
  if (rule.action === 'keep') return true; // only free text reaches the table
  return rule.action === 'pseudonymize' && rule.as === 'auto';
}

export class ByteRewriter extends ByteWalker {
  private root: PathNode | null = null;
  private rootSection: string | null = null;
  private rootEpoch = -1;
  /** Where the record being read is written. */
  private out: ByteOut = new ByteOut(16);
  // Counts added while reading the current record, taken back if it is not taken after all (a record cut by
  // the end of the bytes read so far is read again later, whole).
  private readonly undoSt: RuleStateLike[] = [];
  private readonly undoN: number[] = [];
  private undoLen = 0;
  private readonly undoOther: Int32Array[] = [];
  private undoOtherLen = 0;
  /** Hash of the last string or literal scanned. */
  private h = 0;
  /** A member key held an escape: the text path reads it. */
  private keyEscaped = false;

  constructor(private readonly engine: RecordRedactor) {
    super();
  }

  /**
   * Redacts the record (an object) starting at b[start] into `out` when it ends before `end`. Returns the index
   * after it, or SYNTAX_V / UNHANDLED_V (then nothing is counted; `out` is to be ignored). `line`/`offset`:
   * where the record starts in the input (for messages); `lines` is set to the newlines inside it.
   */
  record(b: Buffer, start: number, end: number, section: string | null, line: number, offset: number, out: ByteOut): number {
    // The root node of the section, remembered while the section and the engine's policy stay the same.
    if (section !== this.rootSection || this.rootEpoch !== this.engine.cacheEpoch || this.root === null) {
      this.root = this.engine.rootFor(section, false);
      this.rootSection = section;
      this.rootEpoch = this.engine.cacheEpoch;
    }
    const root = this.root;
    if (root.rule) return UNHANDLED_V;
    const nb = (root.bytes ??= { table: new ValueTable(), order: [], misses: 0 });
    // Records this path cannot take (nested shapes) are not tried again and again: after a run of misses,
    // only every 256th record is.
    if (nb.misses > 32 && (++nb.misses & 255) !== 0) return UNHANDLED_V;
    if (b[start] !== 0x7b) return UNHANDLED_V;
    this.see(b);
    this.out = out;
    this.undoLen = 0;
    this.undoOtherLen = 0;
    this.lines = 0;
    this.nonAscii = false;
    this.recordStart = start;
    this.line = line;
    this.offset = offset;
    let r = this.object(b, start, end, root);
    if (r === UNHANDLED_V) nb.misses++;
    if (r >= 0 && this.nonAscii && !isUtf8(b.subarray(start, r))) r = SYNTAX_V;
    if (r < 0) {
      this.undo();
      return r;
    }
    nb.misses = 0;
    this.engine.report.rows++;
    return r;
  }

  /** Redacts the record that is all of b[start, end) (whitespace around it allowed) into `out`. */
  rewrite(b: Buffer, start: number, end: number, section: string | null, where: { line: number; offset: number }, out: ByteOut): ByteResult {
    const r = this.record(b, this.ws(b, start, end), end, section, where.line, where.offset, out);
    if (r < 0) return r === SYNTAX_V ? ByteResult.Syntax : ByteResult.NotHandled;
    const p = this.ws(b, r, end);
    // Trailing bytes: not JSON, and the parser (which takes over) counts the record itself.
    if (p !== end) {
      this.undo();
      this.engine.report.rows--;
      return ByteResult.Syntax;
    }
    return ByteResult.Done;
  }

  private count(st: RuleStateLike, d: number): void {
    st.n += d;
    this.undoSt[this.undoLen] = st;
    this.undoN[this.undoLen++] = d;
  }

  private undo(): void {
    for (let k = 0; k < this.undoLen; k++) this.undoSt[k]!.n -= this.undoN[k]!;
    for (let k = 0; k < this.undoOtherLen; k++) this.addOther(this.undoOther[k]!, -1);
    this.undoLen = 0;
    this.undoOtherLen = 0;
  }

  private nonAscii = false;
  private recordStart = 0;
  private line = 0;
  private offset = 0;

  /**
   * The object at b[open] ('{'), written to `out` as the text path writes it: unchanged runs of the source,
   * replaced values, dropped members with their commas. Returns the index after '}', -1 (not JSON) or -2
   * (not handled here).
   */
  private object(b: Buffer, open: number, end: number, n: PathNode): number {
    const out = this.out;
    let p = open + 1;
    let elStart = p;
    p = this.ws(b, p, end);
    if (p >= end) return -1;
    if (b[p] === 0x7d) {
      this.source(open, p + 1);
      return p + 1;
    }
    const nb = (n.bytes ??= { table: new ValueTable(), order: [], misses: 0 });
    let segS = open;
    let segE = elStart;
    let first = true;
    let idx = 0;
    let commaPos = -1;
    for (;;) {
      if (b[p] !== 0x22) return -1;
      const node = this.memberKey(b, p, end, n, nb, idx++);
      if (node === null) return this.keyEscaped ? -2 : -1;
      p = this.keyEnd;
      p = this.ws(b, p, end);
      if (b[p] !== 0x3a) return -1;
      p++;
      p = this.ws(b, p, end);
      const vs = p;
      const r = this.value(b, p, end, node);
      if (r < 0) return r;
      const after = this.valueEnd;
      if (r !== DROP_V) {
        // Same bytes as the text path: a comma, the member's key part, then the value (source or replacement).
        if (!first) {
          if (commaPos === segE) segE++;
          else {
            this.source(segS, segE);
            out.bytes(COMMA, 0, 1);
            segS = segE = elStart;
          }
        }
        if (elStart === segE) segE = vs;
        else {
          this.source(segS, segE);
          segS = elStart;
          segE = vs;
        }
        if (r === SAME_V) segE = after;
        else {
          this.source(segS, segE);
          out.copy(this.repView, this.repS, this.repE);
          segS = segE = after;
        }
        first = false;
      }
      p = after;
      p = this.ws(b, p, end);
      const c = b[p];
      if (c === 0x2c && p < end) {
        commaPos = p;
        p++;
        elStart = p;
        p = this.ws(b, p, end);
      } else if (c === 0x7d && p < end) {
        p++;
        if (after === segE) this.source(segS, p);
        else {
          this.source(segS, segE);
          this.source(after, p);
        }
        return p;
      } else return -1;
    }
  }

  /** Copies the input's bytes [s, e) to the output. */
  private source(s: number, e: number): void {
    this.out.copy(this.bView, this.bOff + s, this.bOff + e);
  }

  /** The node of the key at b[p] ('"'); null when the key is escaped (keyEscaped) or not JSON. */
  private memberKey(b: Buffer, p: number, end: number, n: PathNode, nb: NodeBytes, idx: number): PathNode | null {
    const known = this.knownKey(nb, idx, b, p, end);
    if (known !== null) return known;
    let q = p + 1;
    for (;;) {
      if (q >= end) return (this.keyEscaped = false), null;
      const c = b[q]!;
      if (c === 0x22) break;
      if (c === 0x5c) return (this.keyEscaped = true), null;
      if (c < 0x20) return (this.keyEscaped = false), null;
      if (c >= 0x80) this.nonAscii = true;
      q++;
    }
    // The key names a field only if it is UTF-8 (else the record is not JSON and this path gives up).
    if (this.nonAscii && !isUtf8(b.subarray(this.recordStart, q))) return (this.keyEscaped = false), null;
    const node = learnKey(this.engine, n, nb, idx, b, p + 1, q);
    this.keyEnd = q + 1;
    return node;
  }

  private valueEnd = 0;
  // A REPLACED_V value's replacement: rep[repS, repE).
  private rep: Uint8Array = COMMA;
  private repView: DataView = viewOf(COMMA);
  private repS = 0;
  private repE = 0;

  /**
   * The member value at b[p] under `node`: SAME_V, REPLACED_V (rep/repS/repE) or DROP_V, with valueEnd set
   * to the index after it; SYNTAX_V (not JSON) or UNHANDLED_V (not for this path).
   */
  private value(b: Buffer, p: number, end: number, node: PathNode): number {
    const rule = node.rule;
    const c = b[p];
    if (rule !== null && rule.action === 'drop') {
      const e = this.skipValue(b, p, end);
      if (e < 0) return SYNTAX_V;
      this.count((node.st ??= this.engine.stateOf(rule)), 1);
      this.valueEnd = e;
      return DROP_V;
    }
    let e: number;
    if (c === 0x22) {
      const q = this.strScan(b, p, end);
      if (q < 0) return SYNTAX_V;
      e = q + 1;
      if (rule !== null && rule.action === 'keep' && !rule.freeText) {
        this.count((node.st ??= this.engine.stateOf(rule)), 1);
        this.valueEnd = e;
        return SAME_V;
      }
    } else if (c === 0x7b || c === 0x5b) {
      return UNHANDLED_V;
    } else {
      e = this.literalEnd(b, p, end);
      if (e < 0) return SYNTAX_V;
      if (rule !== null && rule.action === 'keep') {
        this.count((node.st ??= this.engine.stateOf(rule)), 1);
        this.valueEnd = e;
        return SAME_V;
      }
      this.h = hashBytes(b, p, e);
    }
    this.valueEnd = e;
    const t = (node.bytes ??= { table: new ValueTable(), order: [], misses: 0 }).table;
    const engine = this.engine;
    const remember = e - p <= MAX_REMEMBERED;
    const i = remember ? t.findIn(this.bView, this.bOff + p, this.bOff + e, this.h) : -1;
    if (i >= 0 && t.current(i, engine.cacheEpoch, engine.roster.version)) {
      const a = t.slots;
      const rd = a[i + Slot.RuleDelta]!;
      if (rd !== 0) this.count(node.st!, rd);
      const oi = a[i + Slot.Other]!;
      if (oi >= 0) this.other(t.others[oi]!);
      const k = a[i + Slot.Kind]!;
      if (k === REPLACED_V) {
        this.rep = t.arena;
        this.repView = t.arenaView;
        this.repS = a[i + Slot.OutOff]!;
        this.repE = this.repS + a[i + Slot.OutLen]!;
      }
      return k;
    }
    return this.decide(b, p, e, node, t, remember ? (i >= 0 ? i : t.insert(b, p, e, this.h)) : -1);
  }

  /**
   * First sight of a value at a field (or its outcome is out of date): the engine's text path decides, and
   * the outcome with the counts it added is remembered in `slot` (-1: not remembered).
   */
  private decide(b: Buffer, s: number, e: number, node: PathNode, t: ValueTable, slot: number): number {
    const engine = this.engine;
    const st = node.rule !== null ? (node.st ??= engine.stateOf(node.rule)) : null;
    const added = countsSince(engine.report, st);
    // A value with bytes outside ASCII is decoded only once the record is known to be UTF-8.
    if (this.nonAscii && !isUtf8(b.subarray(this.recordStart, e))) return SYNTAX_V;
    const r = engine.rewriteValueText(node, b.toString('utf8', s, e), { line: this.line, offset: this.offset });
    if (r === null) return SYNTAX_V;
    const kind = r === DROP ? DROP_V : r === SAME ? SAME_V : REPLACED_V;
    if (kind === REPLACED_V) {
      this.rep = Buffer.from(r as string, 'utf8');
      this.repView = viewOf(this.rep);
      this.repS = 0;
      this.repE = this.rep.length;
    }
    // The engine counted this occurrence itself: taken back and counted again through the undo log.
    const { rule: rd, other } = added();
    if (rd !== 0) this.count(st!, rd);
    if (other !== null) this.other(other);
    if (slot < 0) return kind;
    t.settle(slot, kind, kind === REPLACED_V ? this.rep : null, this.repE, dependsOnRoster(node.rule) ? engine.roster.version : -1, engine.cacheEpoch, rd, other);
    if (kind === REPLACED_V) {
      // Point at the stored copy (the arena may have moved).
      this.rep = t.arena;
      this.repView = t.arenaView;
      this.repS = t.slots[slot + Slot.OutOff]!;
      this.repE = this.repS + t.slots[slot + Slot.OutLen]!;
    }
    return kind;
  }

  /** Counts other than the rule's, added for one occurrence (and noted for undo). */
  private other(d: Int32Array): void {
    this.addOther(d, 1);
    this.undoOther[this.undoOtherLen++] = d;
  }

  private addOther(d: Int32Array, sign: number): void {
    addOtherCounts(this.engine.report, d, sign);
  }

  /** The closing quote of the string at b[p] ('"'), checking escapes and control characters; -1: not JSON. Sets h. */
  private strScan(b: Buffer, p: number, end: number): number {
    let h = FNV_OFFSET;
    let q = p + 1;
    for (;;) {
      // Printable ASCII other than '"' and '\\' (most of a string): one table test per byte.
      let c = 0;
      while (q < end && PLAIN_ASCII[(c = b[q]!)] === 1) {
        h = Math.imul(h ^ c, FNV_PRIME);
        q++;
      }
      if (q >= end) return -1;
      if (c === 0x22) break;
      if (c < 0x20) return -1;
      if (c >= 0x80) this.nonAscii = true;
      if (c === 0x5c) {
        if (q + 1 >= end) return -1;
        const d = b[q + 1]!;
        if (d === 0x75) {
          if (q + 5 >= end || !isHex(b[q + 2]) || !isHex(b[q + 3]) || !isHex(b[q + 4]) || !isHex(b[q + 5])) return -1;
        } else if (!(d === 0x22 || d === 0x5c || d === 0x2f || d === 0x62 || d === 0x66 || d === 0x6e || d === 0x72 || d === 0x74)) return -1;
        // The escaped byte is content, never the end (\" is a quote inside the string).
        h = Math.imul(Math.imul(h ^ c, FNV_PRIME) ^ d, FNV_PRIME);
        q += 2;
        continue;
      }
      h = Math.imul(h ^ c, FNV_PRIME);
      q++;
    }
    this.h = h;
    return q;
  }

  /** The end of a number, true, false or null at b[p] by the JSON grammar; -1: not JSON. */
  private literalEnd(b: Buffer, p: number, end: number): number {
    let i = p;
    let c = b[i]!;
    if (c === 0x74 || c === 0x66 || c === 0x6e) {
      const word = c === 0x74 ? TRUE : c === 0x66 ? FALSE : NULL;
      if (p + word.length > end) return -1;
      for (let k = 1; k < word.length; k++) if (b[p + k] !== word[k]) return -1;
      return p + word.length;
    }
    // -1 stands for "no byte" past the end: it fails every test below, like any byte that ends a number.
    if (c === 0x2d) c = ++i < end ? b[i]! : -1;
    if (c === 0x30) c = ++i < end ? b[i]! : -1;
    else if (c >= 0x31 && c <= 0x39) {
      for (i++; i < end; i++) {
        c = b[i]!;
        if (c < 0x30 || c > 0x39) break;
      }
      if (i >= end) c = -1;
    } else return -1;
    if (c === 0x2e) {
      c = ++i < end ? b[i]! : -1;
      if (c < 0x30 || c > 0x39) return -1;
      for (i++; i < end; i++) {
        c = b[i]!;
        if (c < 0x30 || c > 0x39) break;
      }
      if (i >= end) c = -1;
    }
    if (c === 0x65 || c === 0x45) {
      c = ++i < end ? b[i]! : -1;
      if (c === 0x2b || c === 0x2d) c = ++i < end ? b[i]! : -1;
      if (c < 0x30 || c > 0x39) return -1;
      for (i++; i < end; i++) {
        c = b[i]!;
        if (c < 0x30 || c > 0x39) break;
      }
      if (i >= end) c = -1;
    }
    // A digit right after a leading zero ("01") is not JSON.
    if (c >= 0x30 && c <= 0x39) return -1;
    return i;
  }

  /** The end of any value at b[p] (for dropped members); -1: not JSON. */
  private skipValue(b: Buffer, p: number, end: number): number {
    const c = b[p];
    if (c === 0x22) {
      const q = this.strScan(b, p, end);
      return q < 0 ? -1 : q + 1;
    }
    if (c !== 0x7b && c !== 0x5b) return this.literalEnd(b, p, end);
    let depth = 0;
    let i = p;
    while (i < end) {
      const d = b[i]!;
      if (d === 0x22) {
        const q = this.strScan(b, i, end);
        if (q < 0) return -1;
        i = q + 1;
        continue;
      }
      if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) depth--;
      i++;
      if (depth === 0) return i;
    }
    return -1;
  }
}

/** 1 for printable ASCII other than '"' and '\\'. */
const PLAIN_ASCII = new Uint8Array(256).fill(1, 0x20, 0x80);
PLAIN_ASCII[0x22] = 0;
PLAIN_ASCII[0x5c] = 0;

const COMMA = Buffer.from(',');
const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');
