import path from 'node:path'
import type { BackendOptions } from './options.js'
import { UsageError } from './types.js'
import { refuseUnknownOptions } from './options.js'
import { type ParsedCommand, RemoteBackend, targetRelease } from './remote/backend.js'
import { localRunner } from './remote/runner.js'

/** Options of the host backend (all optional). */
export interface HostBackendOptions extends BackendOptions {
  /** Prefix every command with `sudo -n` when this process is not root (needs NOPASSWD sudo). Default false. */
  sudo?: boolean
  /**
   * Host loads modules into the running kernel: opt in. Default false: insmod, rmmod, modprobe
   * (other than its -n/--dry-run, --show-depends, -c/--showconfig forms) and `echo ... > FILE`
   * under /proc or /sys are refused with a UsageError, so a spec meant for a VM cannot
   * change this machine's kernel by accident.
   */
  allowModuleLoad?: boolean
  /** Milliseconds one command may take. Default: 60000. */
  timeout?: number
  /** Same as `timeout` (the name `kmodspec sh --timeout` passes). */
  timeoutMs?: number
}

const readOnlyModprobe = new Set(['-n', '--dry-run', '--show-depends', '-D', '-c', '--showconfig', '--show-config', '-h', '--help', '-V', '--version'])

/** Why a command would change the running kernel, or undefined when it would not. */
export function kernelChange(parsed: ParsedCommand, cwd: string): string | undefined {
  const [tool, ...args] = parsed.command
  if (tool === 'insmod') return 'insmod loads a module into the running kernel'
  if (tool === 'rmmod') return 'rmmod unloads a module from the running kernel'
  if (tool === 'modprobe' && !args.some((a) => readOnlyModprobe.has(a))) return 'modprobe loads or unloads modules in the running kernel'
  if (parsed.redirect) {
    const target = path.resolve(cwd, parsed.file)
    if (['/proc', '/sys'].some((p) => target === p || target.startsWith(p + '/'))) return `writing ${target} changes the running kernel`
  }
  return undefined
}

/**
 * The host backend: every command runs on this machine with execa (no shell), kmod's tools by
 * their real names, files used in place. Each step's kernel log records come from /dev/kmsg
 * (sequence numbers read before and after the command).
 *
 * It changes the kernel you are running on, so module loads are refused unless
 * `allowModuleLoad: true`. `reset()` unloads what the run loaded but cannot give a pristine
 * kernel (taint and once-per-boot messages persist): for pristine-per-test semantics use the
 * qemu backend.
 *
 * @example
 * const host = await createHostBackend({ allowModuleLoad: true, sudo: true })
 * const r = await host.exec(['modinfo', '-F', 'vermagic', 'fixtures/hello/hello_api.ko'])
 */
export async function createHostBackend(options: HostBackendOptions = {}): Promise<RemoteBackend> {
  refuseUnknownOptions('host', options)
  const { sudo = false, allowModuleLoad = false, timeoutMs, timeout = timeoutMs ?? 60_000, release: wanted } = options
  if (typeof sudo !== 'boolean' || typeof allowModuleLoad !== 'boolean')
    throw new UsageError('the host backend options sudo and allowModuleLoad take true or false')
  const runner = localRunner({ sudo })
  const release = await targetRelease(runner)
  if (wanted !== undefined && wanted !== release) {
    throw new UsageError(
      `the host runs kernel ${release}, not the release ${wanted} asked for: the host backend tests the running kernel (use the qemu backend for another release)`,
    )
  }
  return new RemoteBackend({
    name: 'host',
    runner,
    release,
    timeoutMs: timeout,
    guard(parsed, cwd) {
      const why = allowModuleLoad ? undefined : kernelChange(parsed, cwd)
      if (why) {
        throw new UsageError(
          `refused '${[...parsed.command, ...(parsed.redirect ? [parsed.redirect, parsed.file] : [])].join(' ')}': ${why} of this machine. Host loads modules into the running kernel: opt in with allowModuleLoad: true, or use the qemu backend`,
        )
      }
    },
  })
}
