/** What went wrong in the kernel itself: its log shows a panic, an oops/BUG or a WARNING. */
export type KernelFailureKind = 'panic' | 'oops' | 'warning'
/** What went wrong with the machine behind the kernel: a step past its time, the VM gone, a setup step failed. */
export type MachineFailureKind = 'timeout' | 'died' | 'setup'
/** Every kind a backend throws: the two failures, or 'usage' ({@link UsageError}: nothing failed, the input was refused). */
export type BackendErrorKind = KernelFailureKind | MachineFailureKind | 'usage'

/**
 * Raised by a backend instead of a result. `kind` says what happened: a kernel failure, a machine failure, or
 * (a {@link UsageError}) a command or option refused as written.
 *
 * @example
 * try { await backend.exec(['insmod', 'crash.ko']) } catch (e) { if (isKernelFailure(e)) console.log(e.report) }
 */
export class BackendError extends Error {
  constructor(
    message: string,
    readonly kind: BackendErrorKind,
    readonly report = '',
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'BackendError'
    // The report is long and already in the message of whoever reports this: keep it out of dumps.
    Object.defineProperty(this, 'report', { enumerable: false })
  }
}

/**
 * A command or option refused as written: the caller's to fix; the kernel and the machine are untouched. A
 * BackendError of kind 'usage' (so `catch (e) { if (e instanceof BackendError) ... }` sees it as before).
 *
 * @example
 * throw new UsageError("unknown command 'frobnicate': the sim backend runs insmod, ...")
 */
export class UsageError extends BackendError {
  declare readonly kind: 'usage'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'usage', '', options)
  }
}

/**
 * True for a failure of the kernel itself (panic, oops, WARNING), as opposed to the machine or the caller's input.
 *
 * @example
 * isKernelFailure(new BackendError('...', 'oops', report)) // true; a UsageError or a 'timeout' is false
 */
export function isKernelFailure(error: unknown): error is BackendError & { kind: KernelFailureKind } {
  return error instanceof BackendError && (error.kind === 'panic' || error.kind === 'oops' || error.kind === 'warning')
}
