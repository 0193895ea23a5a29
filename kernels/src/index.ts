export * from './kernel';
export * from './source';
export * from './relu';
