/**
 * The simulated backend: a simulated kernel, kmod's tools reproduced on its syscalls, and the
 * machine's files (sysroot places in memory or in a host directory, the rest read from the
 * host through an in-memory overlay). Every command runs in-process in milliseconds.
 */
import { statSync } from 'node:fs'
import process from 'node:process'
import type { KernelProfile } from '../profile/types.js'
import { loadEmbeddedProfile, profileForRelease } from '../profile/index.js'
import { createSimKernel } from '../sim/kernel/index.js'
import type { ModuleBehaviour, SimKernel } from '../sim/kernel/types.js'
import { runTool } from '../sim/tools/index.js'
import { SimKernelFault } from '../sim/kernel/exec.js'
import { Vfs } from '../sim/vfs.js'
import { findKernelFailure } from '../observe/kernel-failure.js'
import { BackendError, type Backend, type ExecOptions, type ExecResult } from './types.js'

export interface SimBackendOptions {
  /** Kernel release; default: the embedded profile's. Another release reads its installed headers. */
  release?: string
  /** Host directory that holds the machine's `lib/modules/<release>` and `etc/modprobe.d`. */
  sysroot?: string
  /** A profile to use as is (overrides `release`). */
  profile?: KernelProfile
  /** Behaviour models by module name, for modules whose binary cannot show what they do. */
  overrides?: Map<string, ModuleBehaviour>
  /** Kernel command line, shown in /proc/cmdline; `mod.param=value` words reach built-ins and modprobe. */
  cmdline?: string
}

/** Virtual time a command takes, so consecutive commands' log lines have distinct timestamps. */
const COMMAND_US = 1000

/**
 * Create the simulated backend.
 * @example
 * const k = await createSimBackend()
 * await k.exec(['insmod', 'fixtures/hello/hello_api.ko'])
 */
export async function createSimBackend(options: SimBackendOptions & Record<string, unknown> = {}): Promise<Backend> {
  const { release: wanted, sysroot, overrides, cmdline } = options
  if (cmdline !== undefined && typeof cmdline !== 'string') throw new BackendError(`cmdline must be a string of kernel arguments, got ${typeof cmdline}`, 'usage')
  if (sysroot !== undefined) {
    let ok = false
    try {
      ok = statSync(sysroot).isDirectory()
    } catch {
      ok = false
    }
    if (!ok) throw new BackendError(`sysroot '${sysroot}' is not a directory: give an existing directory (it holds lib/modules/<release> and etc/modprobe.d)`, 'usage')
  }
  let profile: KernelProfile = options.profile ?? (await loadEmbeddedProfile())
  if (!options.profile && wanted !== undefined && wanted !== profile.release) profile = await profileForRelease(wanted)
  const newKernel = (): SimKernel => createSimKernel({ profile, overrides, cmdline })
  let kernel = newKernel()
  const vfs = new Vfs({ release: profile.release, kernel, sysroot })
  let closed = false

  const exec = async (argv: readonly string[], execOptions: ExecOptions = {}): Promise<ExecResult> => {
    if (closed) throw new BackendError('the sim backend is closed: create a new one', 'usage')
    const from = kernel.log.nextSeq()
    let stdout = ''
    let stderr = ''
    const ctx = {
      kernel,
      vfs,
      profile,
      release: profile.release,
      cwd: vfs.resolve(execOptions.cwd ?? process.cwd(), '/'),
      out: (t: string) => void (stdout += t),
      err: (t: string) => void (stderr += t),
      note: (t: string) => void toolNotes.push(t),
    }
    const toolNotes: string[] = []
    let fault: SimKernelFault | undefined
    let exitCode: number
    try {
      exitCode = runTool(ctx, [...argv])
    } catch (e) {
      if (!(e instanceof SimKernelFault)) throw e
      // The kernel died in the module's code: the process is killed (oops) or never returns (hang).
      fault = e
      exitCode = 139
    }
    kernel.tick(COMMAND_US)
    const notes = [...kernel.takeNotes(), ...toolNotes]
    const result: ExecResult = { argv: [...argv], exitCode, stdout, stderr, dmesg: kernel.log.since(from), ...(notes.length > 0 ? { notes } : {}) }
    if (fault?.kind === 'oops') throw new BackendError(`the kernel reported an oops during '${argv.join(' ')}' (reset() brings a fresh kernel)`, 'oops', fault.report, { cause: result })
    if (fault?.kind === 'panic') throw new BackendError(`the kernel panicked during '${argv.join(' ')}' (reset() brings a fresh kernel)`, 'panic', fault.report, { cause: result })
    if (fault) throw new BackendError(`'${argv.join(' ')}' did not finish: the module's code ran without end (reset() brings a fresh kernel)`, 'timeout', fault.report, { cause: result })
    // A WARNING the module's code hit, read from the log by the same parser as on the VM.
    const failure = findKernelFailure(result.dmesg)
    if (failure) {
      const what = { oops: 'an oops', warning: 'a WARNING', panic: 'a panic' }[failure.kind]
      throw new BackendError(`the kernel reported ${what} during '${argv.join(' ')}' (reset() brings a fresh kernel)`, failure.kind, failure.report, { cause: result })
    }
    return result
  }

  return {
    name: 'sim',
    release: profile.release,
    exec,
    async reset() {
      kernel = newKernel()
      vfs.reset(kernel)
    },
    async close() {
      closed = true
    },
  }
}
