import type { ExecResult, KernelLogRecord } from '../contract/backend.js'
import { BackendError } from '../contract/errors.js'

// What a command's kernel log says went wrong: the kernel's own reports, read the same way for
// every backend (the VM's records and the simulator's alike).

/** What a step's kernel log says went wrong, if anything. */
export interface KernelFailure {
  kind: 'oops' | 'warning' | 'panic'
  /** The report: the records from the first failure line on. */
  report: string
}

const panicLine = /^Kernel panic - not syncing/
const oopsLine = /^(Oops: |BUG: |general protection fault|kernel BUG at |Unable to handle kernel)/
const warningLine = /^WARNING: /

/** Finds a panic, oops/BUG or WARNING among a step's records (the most serious wins). */
export function findKernelFailure(records: readonly KernelLogRecord[]): KernelFailure | undefined {
  for (const [kind, re] of [
    ['panic', panicLine],
    ['oops', oopsLine],
    ['warning', warningLine],
  ] as const) {
    const at = records.findIndex((r) => re.test(r.text))
    if (at < 0) continue
    // Start the report at the "cut here" marker when the kernel printed one.
    const cut = at > 0 && /cut here/.test(records[at - 1]!.text) ? at - 1 : at
    return {
      kind,
      report: records
        .slice(cut)
        .map((r) => r.text)
        .join('\n'),
    }
  }
  return undefined
}

/**
 * The BackendError a step whose kernel log shows a failure raises (every real backend words it the
 * same way), or undefined when the log shows none. The partial result is its cause, for transcripts.
 *
 * @example
 * const e = kernelFailureError(records, result, { remedy: 'reset() brings a fresh kernel' })
 * if (e) throw e // "the kernel reported an oops during 'insmod x.ko' (reset() brings a fresh kernel)"
 */
export function kernelFailureError(records: readonly KernelLogRecord[], result: ExecResult, how: { on?: string; remedy: string }): BackendError | undefined {
  const failure = findKernelFailure(records)
  if (!failure) return undefined
  const what = { oops: 'an oops', warning: 'a WARNING', panic: 'a panic' }[failure.kind]
  const kernel = how.on ? `the kernel on ${how.on}` : 'the kernel'
  return new BackendError(`${kernel} reported ${what} during '${result.argv.join(' ')}' (${how.remedy})`, failure.kind, failure.report, { cause: result })
}
