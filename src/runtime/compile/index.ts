// The spec → init program compiler (docs/runtime.md, docs/init-program.md).

export { compileCreate } from './create.js';
export { compileExec, compileExecAhead, type SeccompAhead } from './exec.js';
export { namespaceFlag } from './flags.js';
export { detectHost, detectHostOnce } from './host.js';
export { RootfsResolver, secureJoin } from './secure-join.js';
export { parseMountOptions } from './mount-options.js';
export type { CompiledSeccomp, CreateInput, ExecInput, HostFeatures } from './types.js';
