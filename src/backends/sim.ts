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
import { installedTreeProblem, resolveTree, type ModuleTree } from './tree.js'
import { findKernelFailure } from '../observe/kernel-failure.js'
import { refuseUnknownOptions } from './options.js'
import { parseCommand } from '../contract/index.js'
import { BackendError, UsageError, type Backend, type ExecOptions, type ExecResult } from './types.js'

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
  /** 'installed': /lib/modules/<release> is the host's installed tree, read lazily (writes stay in memory). Default KMODSPEC_TREE, else 'empty'. */
  tree?: ModuleTree
  /**
   * Milliseconds of the simulated kernel's clock one command may take (its sleeps and delays move
   * that clock): a command past it fails with kind 'timeout', as on the VM. Default: 60000.
   */
  timeout?: number
  /** Same as `timeout` (the name `kmodspec sh --timeout` passes). */
  timeoutMs?: number
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
  refuseUnknownOptions('sim', options)
  const { release: wanted, sysroot, overrides, cmdline, timeoutMs: timeoutOption, timeout = timeoutOption ?? 60_000 } = options
  if (!validTimeout(timeout)) throw new UsageError(`timeout must be a positive number of milliseconds, got ${String(timeout)}`)
  if (cmdline !== undefined && typeof cmdline !== 'string') throw new UsageError(`cmdline must be a string of kernel arguments, got ${typeof cmdline}`)
  if (sysroot !== undefined) {
    let ok: boolean
    try {
      ok = statSync(sysroot).isDirectory()
    } catch {
      ok = false
    }
    if (!ok) throw new UsageError(`sysroot '${sysroot}' is not a directory: give an existing directory (it holds lib/modules/<release> and etc/modprobe.d)`)
  }
  let tree: ModuleTree
  try {
    tree = resolveTree(options.tree)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  if (tree === 'installed' && sysroot !== undefined) throw new UsageError("sysroot and tree 'installed' both give /lib/modules: use one of them")
  let profile: KernelProfile = options.profile ?? (await loadEmbeddedProfile())
  if (!options.profile && wanted !== undefined && wanted !== profile.release) profile = await profileForRelease(wanted)
  const newKernel = (): SimKernel => createSimKernel({ profile, overrides, cmdline })
  let kernel = newKernel()
  const treeProblem = tree === 'installed' ? installedTreeProblem(profile.release) : undefined
  if (treeProblem) throw new BackendError(treeProblem, 'setup')
  const vfs = new Vfs({ release: profile.release, kernel, sysroot, tree })
  let closed = false
  /** Why the kernel no longer runs (a panic, or a command stopped at its timeout), until reset(). */
  let dead: string | undefined

  const exec = async (argv: readonly string[], execOptions: ExecOptions = {}): Promise<ExecResult> => {
    if (closed) throw new UsageError('the sim backend is closed: create a new one')
    if (dead) throw new BackendError(`the simulated kernel is not running (${dead} in an earlier step): call reset() for a fresh kernel`, 'died')
    const limit = execOptions.timeoutMs ?? timeout
    if (!validTimeout(limit)) throw new UsageError(`timeoutMs must be a positive number of milliseconds, got ${String(limit)}`)
    // The script language's one parser refuses what every backend refuses, before anything runs.
    parseCommand(argv, 'sim')
    const from = kernel.log.nextSeq()
    const started = kernel.log.now()
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
      exitCode = vfs.batch(() => runTool(ctx, [...argv]))
    } catch (e) {
      if (!(e instanceof SimKernelFault)) throw e
      // The kernel died in the module's code: the process is killed (oops) or never returns (hang).
      fault = e
      exitCode = 139
    }
    // The command's own time on the kernel's clock: its sleeps and delays (the VM waits them out).
    const deadline = started + limit * 1000
    if (kernel.log.now() > deadline) {
      dead = 'a command was stopped at its timeout'
      // What the kernel logged before the deadline is what the VM's console shows when it is stopped.
      const shown = kernel.log
        .since(from)
        .filter((r) => r.timestampUs <= deadline)
        .map((r) => r.text)
      throw new BackendError(
        `the command '${argv.join(' ')}' did not finish within ${limit} ms (the kernel was stopped; reset() brings a fresh kernel)`,
        'timeout',
        shown.join('\n'),
      )
    }
    kernel.tick(COMMAND_US)
    const notes = [...kernel.takeNotes(), ...toolNotes]
    const result: ExecResult = { argv: [...argv], exitCode, stdout, stderr, dmesg: kernel.log.since(from), ...(notes.length > 0 ? { notes } : {}) }
    if (fault?.kind === 'oops')
      throw new BackendError(`the kernel reported an oops during '${argv.join(' ')}' (reset() brings a fresh kernel)`, 'oops', fault.report, { cause: result })
    if (fault?.kind === 'panic') dead = 'it panicked'
    if (fault?.kind === 'panic')
      throw new BackendError(`the kernel panicked during '${argv.join(' ')}' (reset() brings a fresh kernel)`, 'panic', fault.report, { cause: result })
    if (fault)
      throw new BackendError(`'${argv.join(' ')}' did not finish: the module's code ran without end (reset() brings a fresh kernel)`, 'timeout', fault.report, {
        cause: result,
      })
    // A WARNING the module's code hit, read from the log by the same parser as on the VM.
    const failure = findKernelFailure(result.dmesg)
    if (failure) {
      const what = { oops: 'an oops', warning: 'a WARNING', panic: 'a panic' }[failure.kind]
      throw new BackendError(`the kernel reported ${what} during '${argv.join(' ')}' (reset() brings a fresh kernel)`, failure.kind, failure.report, {
        cause: result,
      })
    }
    return result
  }

  return {
    name: 'sim',
    release: profile.release,
    exec,
    async reset() {
      if (closed) throw new UsageError('the sim backend is closed: create a new one')
      kernel = newKernel()
      vfs.reset(kernel)
      dead = undefined
    },
    async close() {
      closed = true
    },
  }
}

function validTimeout(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0
}
