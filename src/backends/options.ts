/**
 * Which backend takes which option. An option a backend does not take is refused with one line
 * naming it, never dropped: `--sysroot` given to qemu must not look as if it took effect.
 */
import type { ModuleTree } from './tree.js'
import type { BackendName } from './types.js'
import { UsageError } from './types.js'

/** Options every backend understands; each backend's own options ride along in the same object. */
export interface BackendOptions {
  backend?: BackendName
  /** Kernel release; default: KMODSPEC_RELEASE, else the backend's default (embedded profile for sim, newest installed for qemu). */
  release?: string
  /** Kernel command line words (e.g. 'foo.bar=1'): /proc/cmdline on sim, appended to the VM's boot arguments on qemu. */
  cmdline?: string
  /** 'installed': /lib/modules/<release> is the kernel's installed tree (see backends/tree.ts); default KMODSPEC_TREE, else 'empty'. */
  tree?: ModuleTree
  [option: string]: unknown
}

/** Options every backend takes (createBackend's own; tree: see tree.ts). */
const common = ['backend', 'release', 'tree']

/** Each backend's own options, as its create function reads them. A new option goes here too. */
export const backendOptions: Readonly<Record<BackendName, readonly string[]>> = {
  sim: [...common, 'sysroot', 'profile', 'overrides', 'cmdline', 'timeout', 'timeoutMs'],
  qemu: [
    ...common,
    'cmdline',
    'kernel',
    'headers',
    'memory',
    'append',
    'timeout',
    'timeoutMs',
    'bootTimeout',
    'accel',
    'qemu',
    'stateCache',
    'qemuArgs',
    'network',
  ],
  host: [...common, 'sudo', 'allowModuleLoad', 'timeout', 'timeoutMs'],
  ssh: [...common, 'target', 'port', 'identity', 'sshOptions', 'timeout', 'timeoutMs'],
}

/** Why an option is not taken, when another backend takes it. */
function why(backend: BackendName, option: string): string {
  const owners = (Object.keys(backendOptions) as BackendName[]).filter((b) => backendOptions[b].includes(option))
  if (option === 'sysroot') return `${backend} uses the /lib/modules and /etc/modprobe.d of its own kernel`
  if (option === 'cmdline') return `${backend} runs a kernel kmodspec does not boot, with the command line it booted with`
  if (owners.length > 0) return `it is an option of the ${owners.join(' and ')} backend${owners.length > 1 ? 's' : ''}`
  return `no backend takes it (the ${backend} backend takes ${backendOptions[backend].filter((o) => !common.includes(o)).join(', ')})`
}

/**
 * Throws a UsageError for the first option (with a value other than undefined) that
 * the backend does not take.
 * @example refuseUnknownOptions('qemu', { sysroot: '/srv/root' }) // throws: the qemu backend does not take the option 'sysroot' (...): drop it
 */
export function refuseUnknownOptions(backend: BackendName, options: Record<string, unknown>): void {
  for (const [option, value] of Object.entries(options)) {
    if (value === undefined || backendOptions[backend].includes(option)) continue
    throw new UsageError(`the ${backend} backend does not take the option '${option}' (${why(backend, option)}): drop it`)
  }
}
