import { isUtf8 } from 'node:buffer';
import { dependsOnRoster, MAX_REMEMBERED } from '../byte-rewriter.js';
import { addOtherCounts, countsSince, type CountsAdded } from '../count-delta.js';
import { DROP, SAME, type PathNode, type RecordRedactor, type RuleState } from '../engine.js';
import type { RecordRun } from '../json-scanner.js';
import { instantiate, ModuleMemory, type WasmGlobal, type WasmMemory } from './instance.js';
import { WASM_BASE64 } from './record-rewrite.wasm.js';

// The redaction pass's byte path for runs of flat JSON records, in WebAssembly (see record-rewrite.wat): the
// module walks the records and writes the output; this side answers what it cannot know (a member key's field,
// a value met for the first time or decided with an older roster) with the engine, exactly as ByteRewriter's
// decide() does, and folds the module's per-outcome hit counts into the report.

interface Exports {
  memory: WasmMemory;
  DATA: WasmGlobal;
  OUTPUT: WasmGlobal;
  SCRATCH: WasmGlobal;
  root: WasmGlobal;
  ver: WasmGlobal;
  epoch: WasmGlobal;
  utf8Ok: WasmGlobal;
  taken: WasmGlobal;
  runEnd: WasmGlobal;
  runLines: WasmGlobal;
  outEnd: WasmGlobal;
  needField: WasmGlobal;
  needS: WasmGlobal;
  needE: WasmGlobal;
  needAscii: WasmGlobal;
  run(start: number, end: number): number;
  addKey(s: number, e: number, field: number): number;
  setField(field: number, kind: number): number;
  takeFieldCount(field: number): number;
  findSlot(field: number, s: number, e: number): number;
  takeHits(slot: number): number;
  settle(field: number, s: number, e: number, kind: number, n: number, ver: number): number;
  reset(): void;
}

const STOPPED = 0;
const LEFT = 1;
const PAUSED = 2;
const NEED_KEY = 3;
const NEED_VALUE = 4;
const NEED_UTF8 = 5;

// Field kinds, as the module reads them.
const DROPPED = 1;
const KEPT = 2;
const KEPT_FREE_TEXT = 3;
const LOOKED_UP = 4;

/** Bytes copied in at most (a bigger buffer, a record of many MB, is left to the JavaScript byte path). */
const MAX_DATA = 16 << 20;
const MAX_FIELDS = 4096;
const SCRATCH_BYTES = 65536;

interface Field {
  node: PathNode;
  st: RuleState | null;
}

/** What deciding a remembered outcome added to the counts (added again for every hit), and to which rule. */
interface SlotCounts extends CountsAdded {
  st: RuleState | null;
}

export class ModuleRewriter {
  private readonly x: Exports;
  private readonly mem: ModuleMemory;
  private readonly data: number;
  private readonly output: number;
  private readonly scratch: number;
  private epoch = -1;
  private readonly roots = new Map<PathNode, number>();
  private readonly fields: Field[] = [];
  private readonly slots = new Map<number, SlotCounts>();
  private misses = 0;
  private tries = 0;

  constructor(private readonly engine: RecordRedactor) {
    this.x = instantiate<Exports>(WASM_BASE64);
    this.data = this.x.DATA.value as number;
    this.output = this.x.OUTPUT.value as number;
    this.scratch = this.x.SCRATCH.value as number;
    this.mem = new ModuleMemory(this.x.memory, this.data, MAX_DATA);
    const u8 = this.mem.u8;
    // PLAIN: printable ASCII other than '"' and '\'.
    u8.fill(1, 0x20, 0x80);
    u8[0x22] = 0;
    u8[0x5c] = 0;
    // WS, with 2 for a newline.
    u8[256 + 0x20] = u8[256 + 0x0d] = u8[256 + 0x09] = 1;
    u8[256 + 0x0a] = 2;
    for (const c of '0123456789abcdefABCDEF') u8[512 + c.charCodeAt(0)] = 1;
    for (const c of '"\\/bfnrt') u8[768 + c.charCodeAt(0)] = 1;
    engine.addCountSource(() => this.fold());
  }

  /** The buffer given before may be refilled with other bytes from now on. */
  fresh(): void {
    this.mem.stale();
  }

  /**
   * Redacts the records from b[start] on (a record starts there) into `out()`'s buffer, one after another
   * while each is followed by ',' and the next '{'. Null when the module does not take them (the caller reads
   * them one by one). `line`/`offset`: where b[start] is in the input (for messages).
   */
  run(section: string | null, b: Buffer, start: number, end: number, line: number, offset: number, write: (bytes: Uint8Array, s: number, e: number) => void): RecordRun | null {
    const engine = this.engine;
    const root = engine.rootFor(section, false);
    if (root.rule || b[start] !== 0x7b) return null;
    // Sections whose records this path cannot take (nested shapes): after a run of misses, only every 256th try.
    if (this.misses > 32 && (++this.tries & 255) !== 0) return null;
    if (!this.mem.load(b)) return null;
    if (engine.cacheEpoch !== this.epoch) this.restart();
    const x = this.x;
    x.root.value = this.rootId(root);
    x.ver.value = engine.roster.version;
    x.epoch.value = engine.cacheEpoch;
    const d = this.data;
    let taken = 0;
    let lines = 0;
    let p = start;
    for (;;) {
      const status = x.run(d + p, d + end);
      const n = x.taken.value as number;
      if (n > 0) {
        write(this.mem.u8, this.output, x.outEnd.value as number);
        taken += n;
        engine.report.rows += n;
        this.misses = 0;
      }
      lines += x.runLines.value as number;
      const at = (x.runEnd.value as number) - d;
      if (status === STOPPED || status === LEFT) {
        if (status === LEFT && taken === 0) this.misses++;
        return { taken, end: at, lines, atRecord: status === LEFT };
      }
      p = at;
      if (status === PAUSED) continue;
      const s = (x.needS.value as number) - d;
      const e = (x.needE.value as number) - d;
      const ascii = x.needAscii.value === 1;
      let ok: boolean;
      if (status === NEED_UTF8) {
        ok = isUtf8(b.subarray(at, e));
        if (ok) x.utf8Ok.value = d + at;
      } else if (status === NEED_KEY) ok = (ascii || isUtf8(b.subarray(at, e))) && this.learnKey(root, b, s, e);
      else if (status === NEED_VALUE) ok = (ascii || isUtf8(b.subarray(at, e))) && this.decide(x.needField.value as number, b, s, e, line + lines, offset + at - start);
      else throw new Error(`record-rewrite: unexpected status ${status}`);
      // Not for this path after all: the caller reads the record, which names an error if there is one.
      if (!ok) return { taken, end: at, lines, atRecord: true };
      // Deciding may have grown the roster (a name field feeds it): outcomes are current for the new version.
      x.ver.value = engine.roster.version;
    }
  }

  private rootId(root: PathNode): number {
    let id = this.roots.get(root);
    if (id === undefined) this.roots.set(root, (id = this.roots.size + 1));
    return id;
  }

  /** The field of member key b[s, e) under the current root, registered with the module. */
  private learnKey(root: PathNode, b: Buffer, s: number, e: number): boolean {
    if (this.fields.length >= MAX_FIELDS) return false;
    const node = this.engine.child(root, b.toString('utf8', s, e));
    let f = this.fields.findIndex((x) => x.node === node);
    if (f < 0) {
      const rule = node.rule;
      const kind = rule?.action === 'drop' ? DROPPED : rule?.action === 'keep' ? (rule.freeText ? KEPT_FREE_TEXT : KEPT) : LOOKED_UP;
      f = this.fields.length;
      this.fields.push({ node, st: rule ? (node.st ??= this.engine.stateOf(rule)) : null });
      this.x.setField(f, kind);
    }
    return this.x.addKey(this.data + s, this.data + e, f) === 1;
  }

  /**
   * Value b[s, e) of field f met for the first time (or decided with an older roster): the engine's text path
   * decides, and the outcome is remembered in the module with what the decision added to the counts (taken
   * back here, and added again for each hit, the first one included). False when it cannot be remembered.
   */
  private decide(f: number, b: Buffer, s: number, e: number, line: number, offset: number): boolean {
    if (e - s > MAX_REMEMBERED) return false;
    const engine = this.engine;
    const { node, st } = this.fields[f]!;
    const added = countsSince(engine.report, st);
    const r = engine.rewriteValueText(node, b.toString('utf8', s, e), { line, offset });
    if (r === null) return false;
    const { rule, other } = added();
    let kind = 0;
    let n = 0;
    if (r === DROP) kind = 2;
    else if (r !== SAME) {
      kind = 1;
      n = Buffer.byteLength(r as string, 'utf8');
      if (n > SCRATCH_BYTES) return false;
      Buffer.from(this.mem.u8.buffer, this.scratch, SCRATCH_BYTES).write(r as string, 0, 'utf8');
    }
    // Hits counted with the outcome decided before go first.
    const old = this.x.findSlot(f, this.data + s, this.data + e);
    if (old >= 0) this.foldSlot(old);
    const slot = this.x.settle(f, this.data + s, this.data + e, kind, n, dependsOnRoster(node.rule) ? engine.roster.version : -1);
    if (slot < 0) return false;
    this.slots.set(slot, { st, rule, other });
    return true;
  }

  private foldSlot(slot: number): void {
    const hits = this.x.takeHits(slot);
    if (hits === 0) return;
    const c = this.slots.get(slot);
    if (!c) return;
    if (c.st && c.rule) c.st.n += c.rule * hits;
    if (c.other) addOtherCounts(this.engine.report, c.other, hits);
  }

  /** Adds what the module counted since the last time to the report. */
  fold(): void {
    for (let f = 0; f < this.fields.length; f++) {
      const n = this.x.takeFieldCount(f);
      if (n) this.fields[f]!.st!.n += n;
    }
    for (const slot of this.slots.keys()) this.foldSlot(slot);
  }

  /** The engine's policy or caches changed: everything remembered goes (after its counts). */
  private restart(): void {
    this.fold();
    this.x.reset();
    this.fields.length = 0;
    this.slots.clear();
    this.roots.clear();
    this.epoch = this.engine.cacheEpoch;
  }
}
