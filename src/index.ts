// kmodspec's public entry: it only re-exports. Users import from here, never from internals.
export * from './dsl/index.js'
export * as observe from './observe/index.js'
export { createBackend, resolveBackendName, BackendError, UsageError, isKernelFailure } from './backends/index.js'
export type { BackendOptions } from './backends/index.js'
export type { ExecOptions, ExecResult } from './backends/types.js'
