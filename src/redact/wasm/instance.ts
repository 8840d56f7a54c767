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
