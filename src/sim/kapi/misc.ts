// panic(), randomness and RCU-deferred frees: what a module calls that ends or outlives its call.
import type { KernelFunction } from '../cpu/types.js'
import { cstringArg, fmtOptions, note, type KapiContext } from './context.js'
import { u64 } from './guest.js'
import { KernelBug } from './heap.js'
import { vsprintf } from './vsprintf.js'

/** kvfree_rcu's offset encoding: a "callback" below 4096 is the rcu_head's offset in the object. */
const KVFREE_RCU_OFFSET_MAX = 4096n

/** What kvfree_call_rcu queued until the next grace period. */
export class RcuQueue {
  private readonly pending: bigint[] = []
  constructor(private readonly free: (addr: bigint) => void) {}
  push(addr: bigint): void {
    this.pending.push(addr)
  }
  /** A grace period: synchronize_rcu, rcu_barrier, or the caller back at the syscall boundary. */
  quiesce(): void {
    for (const a of this.pending.splice(0)) this.free(a)
  }
}

/**
 * @example miscFunctions(ctx, rcu).panic(call) // logs "Kernel panic - not syncing: ..." and throws KernelBug('panic')
 */
export function miscFunctions(ctx: KapiContext, rcu: RcuQueue): Record<string, KernelFunction> {
  // A fixed xorshift64* stream: the VM's bytes come from its CRNG and differ every boot.
  let state = 0x2545f4914f6cdd1dn
  const next = (): bigint => {
    state ^= state >> 12n
    state ^= u64(state << 25n)
    state ^= state >> 27n
    return u64(state * 0x2545f4914f6cdd1dn)
  }
  const randomNote = () => note(ctx, 'get_random_*: the VM returns random bytes; the simulator returns a fixed pseudo-random sequence')
  return {
    // panic(fmt, ...): the message (cut to 1023 bytes, one trailing newline dropped) at KERN_EMERG;
    // the stack dump and the "---[ end Kernel panic" line belong to the CPU side's report.
    panic: (call) => {
      let msg = vsprintf(ctx.memory, cstringArg(call, 0), call.varargs(1), fmtOptions(ctx)).subarray(0, 1023)
      if (msg.length && msg[msg.length - 1] === 0x0a) msg = msg.subarray(0, msg.length - 1)
      const text = new TextDecoder().decode(msg)
      ctx.printk.log(0, `Kernel panic - not syncing: ${text}`)
      throw new KernelBug(`Kernel panic - not syncing: ${text}`, 'panic', 'panic() called by the module')
    },
    get_random_bytes: (call) => {
      randomNote()
      const n = Number(call.arg(1))
      const out = new Uint8Array(n)
      for (let i = 0; i < n; i += 8) {
        const v = next()
        for (let j = 0; j < 8 && i + j < n; j++) out[i + j] = Number((v >> BigInt(8 * j)) & 0xffn)
      }
      if (n) ctx.memory.write(call.arg(0), out)
    },
    get_random_u32: () => {
      randomNote()
      return next() & 0xffffffffn
    },
    get_random_u64: () => {
      randomNote()
      return next()
    },
    // kfree_rcu(ptr, field): freed after a grace period, so the caller may still read it until then.
    kvfree_call_rcu: (call) => {
      const head = call.arg(0)
      const fn = call.arg(1)
      if (head === 0n) rcu.push(fn)
      else if (fn < KVFREE_RCU_OFFSET_MAX) rcu.push(head - fn)
      else note(ctx, 'kvfree_call_rcu with a callback: the simulator does not run RCU callbacks; the object stays allocated')
    },
    call_rcu: () => note(ctx, 'call_rcu: the simulator does not run RCU callbacks yet; the callback was dropped'),
    synchronize_rcu: () => rcu.quiesce(),
    synchronize_rcu_expedited: () => rcu.quiesce(),
    rcu_barrier: () => rcu.quiesce(),
  }
}
