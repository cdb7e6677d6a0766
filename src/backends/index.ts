import process from 'node:process'
import type { Backend, BackendName } from './types.js'
import { refuseUnknownOptions, type BackendOptions } from './options.js'

export type { Backend, BackendName, ExecOptions, ExecResult, KernelLogRecord } from './types.js'
export { BackendError, UsageError, isKernelFailure } from './types.js'
export { resolveTree, installedTreeProblem, type ModuleTree } from './tree.js'
export type { BackendOptions } from './options.js'

const names: BackendName[] = ['sim', 'qemu', 'host', 'ssh']

/** The backend named by the option, else KMODSPEC_BACKEND, else 'sim'. */
export function resolveBackendName(backend?: string): BackendName {
  const name = backend ?? process.env.KMODSPEC_BACKEND ?? 'sim'
  if (!(names as string[]).includes(name)) {
    throw new Error(`unknown backend '${name}' (from ${backend ? 'the backend option' : 'KMODSPEC_BACKEND'}): use one of ${names.join(', ')}`)
  }
  return name as BackendName
}

export async function createBackend(options: BackendOptions = {}): Promise<Backend> {
  const name = resolveBackendName(options.backend)
  refuseUnknownOptions(name, options)
  // `kmodspec run --release R` runs the specs with KMODSPEC_RELEASE=R: the release of every backend they open.
  if (options.release === undefined && process.env.KMODSPEC_RELEASE) options = { ...options, release: process.env.KMODSPEC_RELEASE }
  switch (name) {
    case 'sim':
      return (await import('./sim.js')).createSimBackend(options)
    case 'qemu': {
      // the VM's boot arguments: its own `append` (part of the saved state's key), then the command line's words
      const { cmdline, ...rest } = options
      // one string: the VM joins its arguments with blanks, and quotes inside must survive as written
      const words = typeof cmdline === 'string' && cmdline.trim() ? [cmdline.trim()] : []
      const append = [...((rest.append as string[] | undefined) ?? []), ...words]
      return (await import('./qemu/index.js')).createQemuBackend(append.length ? { ...rest, append } : rest)
    }
    case 'host':
      return (await import('./host.js')).createHostBackend(options)
    case 'ssh':
      return (await import('./ssh.js')).createSshBackend(options)
  }
}
