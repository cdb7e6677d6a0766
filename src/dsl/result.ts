import type { KernelLogRecord } from '../backends/index.js'
import type { ObservedError, ProcModule } from '../observe/index.js'
import type { TranscriptEntry } from './transcript.js'

/** One action of a finished run. */
export interface ActionResult {
  call: string
  exitCode: number
  stdout: string
  stderr: string
  dmesg: KernelLogRecord[]
  /** How it failed, classified from what the tools and the kernel printed. */
  error: ObservedError | undefined
}

/** What awaiting a chain gives: the run's record and the kernel's state at its end. */
export interface KernelRun {
  readonly kind: 'kmodspec.run'
  backend: string
  release: string
  actions: ActionResult[]
  /** Every command, probes included (marked). */
  transcript: TranscriptEntry[]
  /** Kernel log lines caused by the run's actions, oldest first. */
  dmesg: KernelLogRecord[]
  /** /proc/modules at the end of the run (newest first, as the kernel lists them). */
  modules: ProcModule[]
  /** Kernel taint letters at the end of the run (e.g. 'OE'). */
  tainted: string
  /** Modules in the order they appeared during the run (when a step or matcher asked for it). */
  loadOrder: string[]
}

export function isKernelRun(value: unknown): value is KernelRun {
  return typeof value === 'object' && value !== null && (value as KernelRun).kind === 'kmodspec.run'
}
