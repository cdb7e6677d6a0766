import type { ExecResult, KernelLogRecord } from '../contract/backend.js'

/**
 * Kernel log records that the kernel writes on its own schedule (timers, workqueues, watchdogs),
 * whatever command happens to be running. A real-kernel backend puts them in
 * `ExecResult.unrelated`, never in `dmesg`: no step is judged by them, and `kmodspec diff` never
 * counts them as a difference. This is the one list of them. A saved VM state is taken after the
 * kernel has settled, so on a healthy run none of these should appear at all; the list is what
 * keeps a verdict independent of the host when one does (a late boot message on a fast host, a
 * timer report on a loaded one).
 */
export const unrelatedRecordPatterns: readonly { pattern: RegExp; source: string }[] = [
  // arch/x86/kernel/tsc.c: the delayed refinement, about a second after the TSC is first calibrated.
  { pattern: /^tsc: Refined TSC clocksource calibration: \d+\.\d+ MHz$/, source: 'tsc_refine_calibration_work' },
  { pattern: /^tsc: Marking TSC unstable due to /, source: 'mark_tsc_unstable' },
  // kernel/time/clocksource.c: registering and switching the boot clocksources, and the watchdog's reports.
  {
    pattern: /^clocksource: (?:tsc|tsc-early|hpet|acpi_pm|kvm-clock|refined-jiffies|jiffies): mask: 0x[0-9a-f]+ max_cycles: 0x[0-9a-f]+, max_idle_ns: \d+ ns$/,
    source: '__clocksource_update_freq_scale',
  },
  { pattern: /^clocksource: Switched to clocksource (?:tsc|tsc-early|hpet|acpi_pm|kvm-clock|refined-jiffies|jiffies)$/, source: 'timekeeping_notify' },
  { pattern: /^clocksource: timekeeping watchdog on CPU\d+: /, source: 'clocksource_watchdog' },
  { pattern: /^clocksource: {2,}'\S+' (?:wd|cs)_(?:nsec|now): /, source: 'clocksource_watchdog' },
  { pattern: /^clocksource: {2,}Clocksource '\S+' skewed /, source: 'clocksource_watchdog' },
  { pattern: /^clocksource: Long readout interval, skipping watchdog check: /, source: 'clocksource_watchdog' },
  // drivers/char/random.c: the CRNG is seeded once, whenever enough entropy has come in.
  { pattern: /^random: crng init done$/, source: 'crng_reseed' },
  // kernel/time/hrtimer.c: reported once, when a host stall makes one timer interrupt take long.
  { pattern: /^hrtimer: interrupt took \d+ ns$/, source: 'hrtimer_interrupt' },
  // kernel/sched/rt.c: once, when RT tasks hit their bandwidth limit.
  { pattern: /^sched: RT throttling activated$/, source: 'sched_rt_runtime_exceeded' },
]

/** Whether the kernel logs this text on its own schedule, whatever command runs (see {@link unrelatedRecordPatterns}). */
export function isUnrelatedText(text: string): boolean {
  return unrelatedRecordPatterns.some(({ pattern }) => pattern.test(text))
}

/**
 * Splits a command's records into those it caused and those the kernel logged on its own.
 * @example splitUnrelated(records) // { caused: [...insmod's lines], unrelated: [clocksource switch] }
 */
export function splitUnrelated(records: readonly KernelLogRecord[]): { caused: KernelLogRecord[]; unrelated: KernelLogRecord[] } {
  const caused: KernelLogRecord[] = []
  const unrelated: KernelLogRecord[] = []
  for (const r of records) (isUnrelatedText(r.text) ? unrelated : caused).push(r)
  return { caused, unrelated }
}

/**
 * A real kernel's command result: what the command printed, its exit code, and the records it read from the log
 * after it, split into the ones it caused (`dmesg`) and the ones the kernel logged on its own (`unrelated`).
 * @example execResult(['lsmod'], { exitCode: 0, stdout, stderr: '' }, records)
 */
export function execResult(
  argv: readonly string[],
  out: { exitCode: number; stdout: string; stderr: string },
  records: readonly KernelLogRecord[],
): ExecResult {
  const { caused: dmesg, unrelated } = splitUnrelated(records)
  return { argv: [...argv], exitCode: out.exitCode, stdout: out.stdout, stderr: out.stderr, dmesg, ...(unrelated.length > 0 ? { unrelated } : {}) }
}
