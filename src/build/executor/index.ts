export { Builder, type BuilderDeps, type BuildOptions, type BuildResult } from './builder.js';
export { BuildCache, cacheKey, stableJson, type CacheKeyInput, type CacheRecord } from './cache.js';
export { destinationFor, archiveKind, downloadUrl } from './copy.js';
export { runStep, runSpecInput, RunFailed, type RunStepInput, type RunSpecInput, type RunSandbox } from './run-step.js';
export { resolveUser, resolveChown, parseChmod, parsePasswd, parseGroup } from './user.js';
