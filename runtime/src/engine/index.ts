// Plain TypeScript, no WebGPU and no Node built-ins: safe to import from a Worker.
export * from './random';
export * from './architecture';
export * from './safetensors';
export * from './cpu_engine';
export * from './wasm_engine';
export * from './init';
export * from './challenger';
export * from './sampling';
export * from './fusion';
