/**
 * The one text boundary of kmodspec: argv in, what the tools printed and the kernel log
 * records the command caused out. The DSL, the CLI and the differential tests only ever
 * talk to a kernel through this interface, so a spec runs unchanged on every backend.
 */

/** One record of the kernel log, as `/dev/kmsg` gives it. */
export interface KernelLogRecord {
  /** Sequence number; strictly increasing within one boot. */
  seq: number
  /** Syslog priority 0-7 (KERN_EMERG..KERN_DEBUG). */
  level: number
  /** Syslog facility (0 for the kernel). */
  facility: number
  /** Monotonic timestamp in microseconds since boot. */
  timestampUs: number
  /** The message, without the `[    1.234567] ` prefix and without a trailing newline. */
  text: string
}

/** What one command did. */
export interface ExecResult {
  /** The argv as given to {@link Backend.exec}. */
  argv: string[]
  exitCode: number
  stdout: string
  stderr: string
  /** Kernel log records the command caused, oldest first. */
  dmesg: KernelLogRecord[]
  /**
   * Records the kernel logged on its own schedule while the command ran (a clocksource switch, a
   * timer report: see `observe/unrelated.ts`). Never judged as the command's; shown apart in transcripts.
   */
  unrelated?: KernelLogRecord[]
  /** Simulator only: caveats about how faithfully this command was simulated. Never part of the output. */
  notes?: string[]
}

export interface ExecOptions {
  /** Directory that relative paths resolve against (a host path). Default: process.cwd(). */
  cwd?: string
  /** Milliseconds before the command is abandoned and the step fails. */
  timeoutMs?: number
}

export type BackendName = 'sim' | 'qemu' | 'host' | 'ssh'

/**
 * A kernel plus kmod's tools. `exec` takes the commands of the script language
 * (see `scriptLanguage` in `./script.ts`): insmod, rmmod, lsmod, modinfo, modprobe, depmod, dmesg,
 * cat, ls, mkdir, cp, rm, echo (with a `>` or `>>` word before the target file).
 */
export interface Backend {
  readonly name: BackendName
  /** `uname -r` of the kernel behind this backend. */
  readonly release: string
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>
  /** Bring back a pristine kernel: nothing loaded, untainted, empty log, sysroot as at start. */
  reset(): Promise<void>
  /** Free everything the backend holds (processes, temp dirs). Idempotent. */
  close(): Promise<void>
}
