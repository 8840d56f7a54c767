// Node runs WebAssembly, but TypeScript declares it only in the DOM library: the little used here.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports: object);
    readonly exports: object;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
  class Global {
    value: unknown;
  }
}

/** A module's memory and globals, as the wrappers use them. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
export interface WasmGlobal {
  value: unknown;
}

const compiled = new Map<string, WebAssembly.Module>();

/** A new instance of the module whose bytes are `base64` (compiled once per thread); no imports. */
export function instantiate<T>(base64: string): T {
  let m = compiled.get(base64);
  if (!m) compiled.set(base64, (m = new WebAssembly.Module(Buffer.from(base64, 'base64'))));
  return new WebAssembly.Instance(m, {}).exports as T;
}

export const WASM_PAGE = 65536;

/**
 * A module's memory as JavaScript sees it, and the bytes it reads: a buffer is copied in at `data` once, and
 * again only when it is another buffer or stale() says it was refilled. The views follow the memory when it
 * grows.
 */
export class ModuleMemory {
  u8: Uint8Array;
  dv: DataView;
  private loaded: Uint8Array | null = null;
  private loadedLength = -1;

  constructor(
    private readonly memory: WasmMemory,
    /** Where the bytes read go. */
    readonly data: number,
    /** Bytes taken at most (a bigger buffer is left to the JavaScript path). */
    private readonly max: number,
  ) {
    this.u8 = new Uint8Array(memory.buffer);
    this.dv = new DataView(memory.buffer);
  }

  /** Makes `b`'s bytes the ones at `data`; false when `b` is too big. */
  load(b: Uint8Array): boolean {
    if (b === this.loaded && b.length === this.loadedLength) return true;
    if (b.length > this.max) return false;
    // 8 bytes of slack: the modules look one word ahead.
    const need = this.data + b.length + 8;
    if (need > this.u8.length) {
      this.memory.grow(Math.ceil((need - this.u8.length) / WASM_PAGE));
      this.u8 = new Uint8Array(this.memory.buffer);
      this.dv = new DataView(this.memory.buffer);
    }
    this.u8.set(b, this.data);
    this.loaded = b;
    this.loadedLength = b.length;
    return true;
  }

  /** The buffer last loaded may have been refilled: it is copied again on the next load(). */
  stale(): void {
    this.loaded = null;
  }
}
