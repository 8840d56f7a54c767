import { instantiate, ModuleMemory, type WasmGlobal, type WasmMemory } from './instance.js';
import { WASM_BASE64 } from './roster-scan.wasm.js';

// The roster pre-pass's member walk in WebAssembly (see roster-scan.wat): the bytes of a chunk are copied into
// the module's memory once, then each flat record is walked there; only the roster values it has not seen
// before come back to JavaScript.

interface Exports {
  memory: WasmMemory;
  lines: WasmGlobal;
  nout: WasmGlobal;
  taken: WasmGlobal;
  runEnd: WasmGlobal;
  runLines: WasmGlobal;
  DATA: WasmGlobal;
  walk(start: number, end: number): number;
  run(start: number, end: number): number;
  remember(key: number, s: number, e: number): void;
  forget(): void;
}

export const RUN_STOPPED = 0;
export const RUN_LEFT = 1;
export const RUN_PAUSED = 2;

const MAX_KEYS = 32;
const KEY_BYTES = 2560;
/** Bytes copied in at most (a bigger buffer, a record of many MB, is left to the JavaScript walk). */
const MAX_DATA = 16 << 20;

export class RosterScan {
  private readonly x: Exports;
  private readonly mem: ModuleMemory;
  private readonly data: number;

  constructor() {
    this.x = instantiate<Exports>(WASM_BASE64);
    this.data = this.x.DATA.value as number;
    this.mem = new ModuleMemory(this.x.memory, this.data, MAX_DATA);
    // STRING_BYTE and LITERAL_BYTE, as roster-walker.ts defines them.
    this.mem.u8.fill(1, 0x20, 0x100);
    this.mem.u8[0x22] = 0;
    this.mem.u8[0x5c] = 0;
    for (const c of '0123456789.-+Eabcdefghijklmnopqrstuvwxyz') this.mem.u8[256 + c.charCodeAt(0)] = 1;
    // WS_BYTE: whitespace, and 2 for a newline (the walk counts lines by it).
    this.mem.u8[512 + 0x20] = this.mem.u8[512 + 0x0d] = this.mem.u8[512 + 0x09] = 1;
    this.mem.u8[512 + 0x0a] = 2;
  }

  /** The record keys whose values are reported (in this order: a report's key index); forgets what was seen. */
  setKeys(keys: Uint8Array[]): boolean {
    if (keys.length > MAX_KEYS || keys.reduce((n, k) => n + k.length, 0) > KEY_BYTES) return false;
    let at = 1536;
    keys.forEach((k, i) => {
      this.mem.u8.set(k, at);
      this.mem.dv.setUint32(776 + 8 * i, at, true);
      this.mem.dv.setUint32(780 + 8 * i, k.length, true);
      at += k.length;
    });
    this.mem.dv.setUint32(768, keys.length, true);
    this.x.forget();
    return true;
  }

  /** Makes `b`'s bytes the ones walked; false when `b` is too big for this walk. */
  load(b: Uint8Array): boolean {
    return this.mem.load(b);
  }

  /** The buffer last loaded may have been refilled: copy it again on the next load(). */
  stale(): void {
    this.mem.stale();
  }

  /** Walks the record at b[start] (b loaded); the index after it, or -1 (see walk in roster-scan.wat). */
  walk(start: number, end: number): number {
    const r = this.x.walk(this.data + start, this.data + end);
    return r < 0 ? -1 : r - this.data;
  }

  /**
   * Walks records from b[start] on while each is followed by ',' and the next '{': RUN_STOPPED (after the last
   * one taken, at runEnd), RUN_LEFT (the record at runEnd is not read here; its reports so far stand) or
   * RUN_PAUSED (the report area is full: deal with the reports, then run again from runEnd).
   */
  run(start: number, end: number): number {
    return this.x.run(this.data + start, this.data + end);
  }

  /** Records the last run took. */
  get taken(): number {
    return this.x.taken.value as number;
  }

  /** Where the last run stopped (see run()). */
  get runEnd(): number {
    return (this.x.runEnd.value as number) - this.data;
  }

  /** Newlines before runEnd in the last run (not those after its last record when it stopped there). */
  get runLines(): number {
    return this.x.runLines.value as number;
  }

  /** Newlines inside the record last walked. */
  get lines(): number {
    return this.x.lines.value as number;
  }

  /** Values reported by the last walk. */
  get reported(): number {
    return this.x.nout.value as number;
  }

  /** Report i of the last walk or run: its key index, and the value's content [start, end) in the buffer. */
  reportKey(i: number): number {
    return this.mem.dv.getInt32(4096 + 24 * i, true);
  }
  reportStart(i: number): number {
    return this.mem.dv.getInt32(4100 + 24 * i, true) - this.data;
  }
  reportEnd(i: number): number {
    return this.mem.dv.getInt32(4104 + 24 * i, true) - this.data;
  }
  /** For a run: which of its records the value is in, where that record starts, the newlines before it. */
  reportRecord(i: number): number {
    return this.mem.dv.getInt32(4108 + 24 * i, true);
  }
  reportRecordStart(i: number): number {
    return this.mem.dv.getInt32(4112 + 24 * i, true) - this.data;
  }
  reportRecordLines(i: number): number {
    return this.mem.dv.getInt32(4116 + 24 * i, true);
  }

  /** The value [start, end) of key `key` (in the loaded buffer) is dealt with: it is reported no more. */
  remember(key: number, start: number, end: number): void {
    this.x.remember(key, this.data + start, this.data + end);
  }
}
