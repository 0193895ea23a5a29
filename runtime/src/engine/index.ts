// Plain TypeScript, no WebGPU and no Node built-ins: safe to import from a Worker.
export * from './random';
