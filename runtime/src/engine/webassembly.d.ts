// The part of the WebAssembly JS API the engine uses: ES2023's lib and @types/node 20 declare none of it, and the
// engine must not take the DOM's or the Workers' global types with it.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
}

/** A .wasm import: wrangler (and the Workers test pool) hand over the compiled module. */
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
