// Timers (kernel/time/timer.c of 6.1) on the virtual clock: a pending timer whose expiry jiffies have
// passed runs when module code returns to its syscall (the timer softirq would have run it by then);
// del_timer and friends cancel it unrun; a timer still pending at rmmod is the module's bug, as on the VM.
import type { KernelFunction } from '../cpu/types.js'
import type { KapiContext } from './context.js'
import { readUint, writeUint } from './guest.js'
import { callIf, ptrField, type RegistryHost } from './registry.js'
import { jiffies } from './time.js'

/** struct timer_list: expires +16, function +24. */
const TIMER = { expires: 16, fn: 24 }

export class Timers {
  private readonly pending = new Set<bigint>()

  constructor(
    private readonly ctx: KapiContext,
    private readonly host: RegistryHost,
  ) {}

  /** Runs, in expiry order, every pending timer that is due on the virtual clock. */
  runDue(): void {
    for (let guard = 0; guard < 1000; guard++) {
      const now = jiffies(this.ctx.clock)
      const due = [...this.pending].filter((t) => BigInt.asIntN(64, readUint(this.ctx.memory, t + BigInt(TIMER.expires), 8) - now) <= 0n)
      if (!due.length) return
      due.sort((a, b) => (readUint(this.ctx.memory, a + BigInt(TIMER.expires), 8) < readUint(this.ctx.memory, b + BigInt(TIMER.expires), 8) ? -1 : 1))
      const t = due[0]!
      this.pending.delete(t)
      callIf(this.ctx, this.host, ptrField(this.ctx, t, TIMER.fn), [t], 'timer function')
    }
  }

  functions(): Record<string, KernelFunction> {
    const m = this.ctx.memory
    const arm = (t: bigint, expires: bigint): bigint => {
      const was = this.pending.has(t)
      writeUint(m, t + BigInt(TIMER.expires), 8, expires)
      this.pending.add(t)
      return was ? 1n : 0n
    }
    const cancel = (t: bigint): bigint => (this.pending.delete(t) ? 1n : 0n)
    return {
      init_timer_key: (c) => {
        this.pending.delete(c.arg(0))
        writeUint(m, c.arg(0) + BigInt(TIMER.fn), 8, c.arg(1))
      },
      add_timer: (c) => void arm(c.arg(0), readUint(m, c.arg(0) + BigInt(TIMER.expires), 8)),
      mod_timer: (c) => arm(c.arg(0), c.arg(1)),
      timer_reduce: (c) => {
        const t = c.arg(0)
        if (this.pending.has(t) && BigInt.asIntN(64, readUint(m, t + BigInt(TIMER.expires), 8) - c.arg(1)) <= 0n) return 1n
        return arm(t, c.arg(1))
      },
      del_timer: (c) => cancel(c.arg(0)),
      del_timer_sync: (c) => cancel(c.arg(0)),
      timer_delete: (c) => cancel(c.arg(0)),
      timer_delete_sync: (c) => cancel(c.arg(0)),
      try_to_del_timer_sync: (c) => cancel(c.arg(0)),
      timer_shutdown_sync: (c) => cancel(c.arg(0)),
    }
  }
}
