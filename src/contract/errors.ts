/** Raised by a backend when the kernel or the machine behind it failed (panic, oops, hang, VM died). */
export class BackendError extends Error {
  constructor(
    message: string,
    readonly kind: 'panic' | 'oops' | 'warning' | 'timeout' | 'died' | 'setup' | 'usage',
    readonly report = '',
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'BackendError'
    // The report is long and already in the message of whoever reports this: keep it out of dumps.
    Object.defineProperty(this, 'report', { enumerable: false })
  }
}
