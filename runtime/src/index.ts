export * from './gpu/device';
export * from './gpu/pipelines';
export * from './gpu/buffers';
export * from './engine/index';
