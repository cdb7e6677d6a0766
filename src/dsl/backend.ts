import { createBackend, type Backend } from '../backends/index.js'
import { normalizeOptions, type KernelOptions } from './options.js'

/**
 * Create the backend a chain would use for these options, for sharing one kernel between
 * chains (pass it as `backend`; the caller closes it). Used by `kmodspec/vitest`'s useKernel().
 */
export async function openBackend(options: Pick<KernelOptions, 'backend' | 'release'> = {}): Promise<Backend> {
  const normalized = normalizeOptions(options)
  if (typeof normalized.backend === 'object') return normalized.backend
  return createBackend({ backend: normalized.backend, ...(normalized.release ? { release: normalized.release } : {}) })
}
