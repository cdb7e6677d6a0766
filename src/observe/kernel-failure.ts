import type { KernelLogRecord } from '../contract/backend.js'

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
  for (const [kind, re] of [['panic', panicLine], ['oops', oopsLine], ['warning', warningLine]] as const) {
    const at = records.findIndex((r) => re.test(r.text))
    if (at < 0) continue
    // Start the report at the "cut here" marker when the kernel printed one.
    const cut = at > 0 && /cut here/.test(records[at - 1].text) ? at - 1 : at
    return { kind, report: records.slice(cut).map((r) => r.text).join('\n') }
  }
  return undefined
}
