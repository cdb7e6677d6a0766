// jiffies, ktime and the delays on the simulator's virtual clock (the printk clock, in µs).
import type { CallArgs, KernelFunction } from '../cpu/types.js'
import type { KapiContext, VirtualClock } from './context.js'
import { note } from './context.js'
import { s64, u64, writeUint } from './guest.js'

/** CONFIG_HZ of Debian's 6.1 kernel. */
export const HZ = 250
const US_PER_JIFFY = 1_000_000 / HZ
/** INITIAL_JIFFIES: jiffies start 5 minutes before wrapping 32 bits, so wrap bugs show early. */
export const INITIAL_JIFFIES = BigInt.asUintN(64, BigInt((2 ** 32 - 300 * HZ) >>> 0))

export type { VirtualClock } from './context.js'

/** jiffies at the clock's current time. */
export function jiffies(clock: VirtualClock): bigint {
  return INITIAL_JIFFIES + BigInt(Math.floor(clock.now() / US_PER_JIFFY))
}

/** msecs_to_jiffies() for HZ=250: rounded up. */
export function msecsToJiffies(ms: number): number {
  return Math.ceil(ms / (1000 / HZ))
}

/** usecs_to_jiffies() for HZ=250: rounded up. */
export function usecsToJiffies(us: number): number {
  return Math.ceil(us / US_PER_JIFFY)
}

/** Sleeps until `j` jiffies from now have passed, ending on a jiffy boundary as a timer does. */
function sleepJiffies(clock: VirtualClock, j: number): void {
  const target = (Math.floor(clock.now() / US_PER_JIFFY) + j) * US_PER_JIFFY
  clock.tick(Math.max(0, target - clock.now()))
}

const SCALE_US = 2 ** 32 / 1e6

/**
 * The time functions a module calls, on the virtual clock: jiffies and ktime only move when
 * something sleeps, delays or the simulator advances time.
 * @example timeFunctions(ctx).msleep(call) // call.arg(0) = 20 -> the clock moves 24 ms (6 jiffies)
 */
export function timeFunctions(ctx: KapiContext): Record<string, KernelFunction> {
  const c = ctx.clock
  const ns = (): bigint => BigInt(Math.round(c.now())) * 1000n
  const writeTs = (call: CallArgs): void => {
    const t = ns()
    writeUint(call.memory, call.arg(0), 8, t / 1_000_000_000n)
    writeUint(call.memory, call.arg(0) + 8n, 8, t % 1_000_000_000n)
  }
  const wallNote = () => note(ctx, 'ktime_get_real*: the VM reads its wall clock from the host at boot; the simulator counts from the epoch plus its uptime')
  return {
    // msleep(m): schedule_timeout(msecs_to_jiffies(m) + 1), repeated until that much has passed.
    msleep: (call) => sleepJiffies(c, msecsToJiffies(Number(call.arg(0) & 0xffffffffn)) + 1),
    msleep_interruptible: (call) => {
      sleepJiffies(c, msecsToJiffies(Number(call.arg(0) & 0xffffffffn)) + 1)
      return 0
    },
    // usleep_range_state(min, max, state): an hrtimer between min and max; the simulator wakes at min.
    usleep_range_state: (call) => c.tick(Number(call.arg(0))),
    // udelay(n) is __const_udelay(n * 0x10c7): xloops in 2^32/10^6 units of a microsecond.
    __const_udelay: (call) => c.tick(Math.round(Number(call.arg(0)) / SCALE_US)),
    __udelay: (call) => c.tick(Number(call.arg(0))),
    __ndelay: (call) => c.tick(Math.ceil(Number(call.arg(0)) / 1000)),
    __msecs_to_jiffies: (call) => msecsToJiffies(Number(call.arg(0) & 0xffffffffn)),
    __usecs_to_jiffies: (call) => usecsToJiffies(Number(call.arg(0) & 0xffffffffn)),
    jiffies_to_msecs: (call) => Number(call.arg(0) & 0xffffffffn) * (1000 / HZ),
    jiffies_to_usecs: (call) => Number(call.arg(0) & 0xffffffffn) * US_PER_JIFFY,
    get_jiffies_64: () => jiffies(c),
    schedule_timeout: (call) => {
      const t = s64(call.arg(0))
      // MAX_SCHEDULE_TIMEOUT with nobody to wake the task: the simulator cannot wait forever.
      if (t >= 0x7fffffffffffffffn) {
        note(ctx, 'schedule_timeout(MAX_SCHEDULE_TIMEOUT): nothing in the simulator wakes the task; it returns at once')
        return u64(t)
      }
      if (t > 0n) sleepJiffies(c, Number(t))
      return 0
    },
    ktime_get: () => ns(),
    ktime_get_raw: () => ns(),
    ktime_get_mono_fast_ns: () => ns(),
    ktime_get_raw_fast_ns: () => ns(),
    ktime_get_boot_fast_ns: () => ns(),
    // ktime_get_real()/clock_tai are ktime_get_with_offset(TK_OFFS_REAL=0 / TK_OFFS_TAI=2); BOOT=1 is monotonic here.
    ktime_get_with_offset: (call) => {
      if (call.arg(0) !== 1n) wallNote()
      return ns()
    },
    ktime_get_ts64: (call) => writeTs(call),
    ktime_get_raw_ts64: (call) => writeTs(call),
    ktime_get_seconds: () => ns() / 1_000_000_000n,
    ktime_get_real_seconds: () => {
      wallNote()
      return ns() / 1_000_000_000n
    },
    ktime_get_real_ts64: (call) => {
      wallNote()
      writeTs(call)
    },
  }
}
