// Workqueues (kernel/workqueue.c of 6.1) on one CPU and the virtual clock: queued work runs, in
// queueing order, when the module flushes it or drains its queue, and otherwise when the syscall that
// queued it returns (a kworker would run it right after); cancel drops it unrun.
import type { KernelFunction } from '../cpu/types.js'
import { fromUtf8, readCString } from './guest.js'
import type { KapiContext } from './context.js'
import { callIf, ptrField, type RegistryHost } from './registry.js'

/** struct work_struct: func at +24; a delayed_work starts with its work_struct. */
const WORK_FUNC = 24
const WQ_SIZE = 256

export class Workqueues {
  private readonly pending: Array<{ work: bigint; wq: bigint }> = []
  readonly queues = new Map<bigint, string>()

  constructor(
    private readonly ctx: KapiContext,
    private readonly host: RegistryHost,
  ) {}

  /** Runs the matching items pending now; work they queue again waits for the next flush or syscall end (no endless self-requeue). */
  private run(filter: (p: { work: bigint; wq: bigint }) => boolean): void {
    const now = this.pending.filter(filter)
    for (const p of now) {
      const i = this.pending.indexOf(p)
      if (i < 0) continue
      this.pending.splice(i, 1)
      callIf(this.ctx, this.host, ptrField(this.ctx, p.work, WORK_FUNC), [p.work], 'work item')
    }
  }

  /** The syscall returns: what it queued runs now, as a kworker would run it. */
  drain(): void {
    this.run(() => true)
  }

  functions(): Record<string, KernelFunction> {
    const queue = (wq: bigint, work: bigint): bigint => {
      if (this.pending.some((p) => p.work === work)) return 0n
      this.pending.push({ work, wq })
      return 1n
    }
    const cancel = (work: bigint): bigint => {
      const i = this.pending.findIndex((p) => p.work === work)
      if (i >= 0) this.pending.splice(i, 1)
      return i >= 0 ? 1n : 0n
    }
    return {
      alloc_workqueue: (c) => {
        const wq = this.ctx.heap.kmalloc(WQ_SIZE, 'alloc_workqueue')
        this.queues.set(wq, fromUtf8(readCString(this.ctx.memory, c.arg(0), 32)))
        return wq
      },
      destroy_workqueue: (c) => {
        this.run((p) => p.wq === c.arg(0))
        this.queues.delete(c.arg(0))
        this.ctx.heap.free(c.arg(0), 'kfree')
      },
      queue_work_on: (c) => queue(c.arg(1), c.arg(2)),
      queue_delayed_work_on: (c) => queue(c.arg(1), c.arg(2)),
      mod_delayed_work_on: (c) => (cancel(c.arg(2)), queue(c.arg(1), c.arg(2))),
      flush_work: (c) => {
        const had = this.pending.some((p) => p.work === c.arg(0))
        this.run((p) => p.work === c.arg(0))
        return had ? 1n : 0n
      },
      flush_delayed_work: (c) => {
        const had = this.pending.some((p) => p.work === c.arg(0))
        this.run((p) => p.work === c.arg(0))
        return had ? 1n : 0n
      },
      __flush_workqueue: (c) => this.run((p) => p.wq === c.arg(0)),
      drain_workqueue: (c) => this.run((p) => p.wq === c.arg(0)),
      cancel_work_sync: (c) => cancel(c.arg(0)),
      cancel_work: (c) => cancel(c.arg(0)),
      cancel_delayed_work_sync: (c) => cancel(c.arg(0)),
      cancel_delayed_work: (c) => cancel(c.arg(0)),
    }
  }
}
