export * from './domain.errors';
export * from './json-path';
export * from './zod-issues';
export * from './stage-definition';
export * from './pipeline.schema';
export * from './validate-pipeline';
export * from './json-diff';
