import { ByteOut, MemoryView } from './byte-out.js';
import { dependsOnRoster, MAX_REMEMBERED } from './byte-rewriter.js';
import { Slot, ValueTable } from './byte-table.js';
import { addOtherCounts, otherCounts, otherCountsSince } from './count-delta.js';
import { unquote, utf8, type CsvRowLocation } from './csv-splitter.js';
import { DROP, type PathNode, type RecordRedactor } from './engine.js';
import { csvField } from './formats.js';

// The byte path for CSV rows, the CSV counterpart of byte-rewriter.ts: the splitter hands over each row as
// the raw bounds of its fields, and each output field is written as bytes. A column a rule keeps is copied
// (re-quoted only where csvField would quote differently); every other field's outcome is remembered by its
// raw bytes, per column, together with the counts deciding it added, which are replayed. Forecast exports
// repeat the same people, roles and periods on every row, so after the first sight a field costs a hash and
// a table probe: no JS string, no csvField, no string concatenation. The first sight goes through the
// engine's own field redaction (redactField), so outcomes and counts are the engine's.

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const COMMA_BYTES = Buffer.from(',');
const QUOTE_BYTES = Buffer.from('"');

// What a remembered field becomes (the table's `kind`).
const WRITTEN = 1;
const DROPPED = 2;

// What a column's rule does with a string, decided once per header: `keep` copies it and `drop` leaves it
// out (both only count it, as applyRule does); every other column's values are decided and remembered.
const KEEP = 0;
const DROP_COLUMN = 1;
const DECIDE = 2;

interface RuleStateLike {
  n: number;
}

export class CsvRowRewriter {
  private readonly tables: ValueTable[];
  /** Per column: 1 when it is written (not a column the policy drops). */
  private readonly written: Uint8Array;
  private readonly mode: Uint8Array;
  /** Per column: its rule's count (null: no rule). */
  private readonly states: (RuleStateLike | null)[];
  /** Per column: the table slot of the last value (see ValueTable#lookup). */
  private readonly last: Int32Array;
  /** The input's memory, for ByteOut#copy and the tables. */
  private readonly mem = new MemoryView();

  constructor(
    private readonly engine: RecordRedactor,
    private readonly columns: PathNode[],
    writtenColumns: number[],
  ) {
    this.tables = columns.map(() => new ValueTable());
    this.written = new Uint8Array(columns.length);
    for (const i of writtenColumns) this.written[i] = 1;
    this.mode = Uint8Array.from(columns, (n) => {
      const r = n.rule;
      return r === null ? DECIDE : r.action === 'drop' ? DROP_COLUMN : r.action === 'keep' && !r.freeText ? KEEP : DECIDE;
    });
    this.states = columns.map((n) => (n.rule === null ? null : (n.st ??= engine.stateOf(n.rule))));
    this.last = new Int32Array(columns.length).fill(-1);
  }

  /** Redacts the row whose fields are b[bounds[2i], bounds[2i+1]) into `out` (no record delimiter). */
  row(b: Buffer, bounds: Int32Array, where: CsvRowLocation, out: ByteOut): void {
    const engine = this.engine;
    engine.report.rows++;
    this.mem.see(b);
    const view = this.mem.view;
    const off = this.mem.off;
    const epoch = engine.cacheEpoch;
    const mode = this.mode;
    const written = this.written;
    const n = mode.length;
    let first = true;
    for (let i = 0; i < n; i++) {
      const s = bounds[2 * i]!;
      const e = bounds[2 * i + 1]!;
      const w = written[i] === 1 ? out : null;
      if (w !== null) {
        if (!first) w.bytes(COMMA_BYTES, 0, 1);
        first = false;
      }
      const m = mode[i]!;
      if (m !== DECIDE) {
        this.states[i]!.n++;
        if (w !== null && m === KEEP) this.keep(b, s, e, w);
        continue;
      }
      if (s === e || e - s > MAX_REMEMBERED) {
        this.decide(i, b, s, e, where, w, null);
        continue;
      }
      const t = this.tables[i]!;
      const slot = t.lookup(view, off + s, off + e, this.last[i]!);
      if (slot >= 0) this.last[i] = slot;
      // The roster version is read each time: an earlier field of this row may have grown the roster.
      if (slot >= 0 && t.current(slot, epoch, engine.roster.version)) {
        const a = t.slots;
        const rd = a[slot + Slot.RuleDelta]!;
        if (rd !== 0) this.states[i]!.n += rd;
        const oi = a[slot + Slot.Other]!;
        if (oi >= 0) addOtherCounts(engine.report, t.others[oi]!, 1);
        if (w !== null && a[slot + Slot.Kind] === WRITTEN) {
          const o = a[slot + Slot.OutOff]!;
          w.copy(t.arenaView, o, o + a[slot + Slot.OutLen]!);
        }
        continue;
      }
      this.decide(i, b, s, e, where, w, t, slot);
    }
  }

  /**
   * Column i's field as the engine redacts it, written to `w` (null: a column not written), its outcome
   * remembered in `t` (`slot`: the bytes are there, with an outdated outcome; -1: the lookup just missed,
   * so `t.hashed` is their hash) unless `t` is null.
   */
  private decide(i: number, b: Buffer, s: number, e: number, where: CsvRowLocation, w: ByteOut | null, table: ValueTable | null, slot = -1): void {
    const engine = this.engine;
    // A table that gave up (the column's values rarely repeat) remembers nothing more.
    const t = table !== null && !table.off ? table : null;
    const n = this.columns[i]!;
    const st = this.states[i] ?? null;
    const ruleBefore = st !== null ? st.n : 0;
    const before = t !== null ? otherCounts(engine.report) : null;
    const r = engine.redactField(n, s === e ? '' : b[s] === QUOTE ? unquote(b, s, e) : utf8(b, s, e), where);
    const text = r === DROP ? '' : csvField(r);
    if (t === null) {
      if (w !== null) w.str(text);
      return;
    }
    // Encoded once: written, and remembered for the next time.
    const bytes = Buffer.from(text, 'utf8');
    if (w !== null) w.bytes(bytes, 0, bytes.length);
    if (slot < 0) {
      slot = t.insert(b, s, e, t.hashed);
      if (slot < 0) return; // the table is off: this column's values rarely repeat
      this.last[i] = slot;
    }
    const rd = st !== null ? st.n - ruleBefore : 0;
    t.settle(slot, r === DROP ? DROPPED : WRITTEN, bytes, bytes.length, dependsOnRoster(n.rule) ? engine.roster.version : -1, engine.cacheEpoch, rd, otherCountsSince(engine.report, before!));
  }

  /** A kept field as csvField writes its value: quoted exactly when it holds a comma, quote, CR or LF. */
  private keep(b: Buffer, s: number, e: number, w: ByteOut): void {
    if (s === e) return;
    if (b[s] === QUOTE) {
      for (let k = s + 1; k < e - 1; k++) {
        const c = b[k]!;
        if (c === QUOTE || c === COMMA || c === LF || c === CR) return this.source(w, s, e);
      }
      return this.source(w, s + 1, e - 1);
    }
    for (let k = s; k < e; k++) {
      const c = b[k]!;
      if (c === LF || c === CR) {
        w.bytes(QUOTE_BYTES, 0, 1);
        this.source(w, s, e);
        w.bytes(QUOTE_BYTES, 0, 1);
        return;
      }
    }
    this.source(w, s, e);
  }

  private source(w: ByteOut, s: number, e: number): void {
    w.copy(this.mem.view, this.mem.off + s, this.mem.off + e);
  }
}
