// The printk family a module calls: _printk and vprintk, dev_* (drivers/base/core.c), netdev_*
// (net/core/dev.c) and ___ratelimit (lib/ratelimit.c) of Linux 6.1, on the simulator's ring buffer.
import type { CallArgs, KernelFunction, VaList } from '../cpu/types.js'
import { cstringArg, fmtOptions, note, type KapiContext } from './context.js'
import { concat, readCString, readUint, s32, utf8, writeUint } from './guest.js'
import { jiffies, HZ } from './time.js'
import { guestVa } from './va.js'
import { vsprintf } from './vsprintf.js'

const SOH = 1
const KERN_WARNING = 4

/** Formats and stores one printk; returns what printk returns (the bytes stored). */
export function vprintk(ctx: KapiContext, fmt: Uint8Array, va: VaList, level?: number, devInfo = false): number {
  const text = vsprintf(ctx.memory, fmt, va, fmtOptions(ctx))
  return ctx.printk.store(text, { level, devInfo, caller: ctx.caller?.() ?? 0 })
}

/** A KERN_<n> prefix as bytes, for the kernel's own "%s..." formats that print a level string. */
const levelPrefix = (level: number): Uint8Array => new Uint8Array([SOH, 0x30 + level])

/** dev_driver_string() and dev_name() through the device model, or a marker and a note (`who` names the caller in it). */
export function deviceNames(ctx: KapiContext, dev: bigint, who = 'dev_printk'): { driver: string; name: string } {
  const info = ctx.resolveDevice?.(dev)
  if (!info) {
    note(ctx, `${who}: struct device 0x${dev.toString(16)} is unknown to the simulator's device model; its names are not printed as the kernel would`)
    return { driver: '(unknown driver)', name: `(unknown device 0x${dev.toString(16)})` }
  }
  return { driver: info.driver, name: info.name ?? '(null)' }
}

/** __dev_printk(): "DRIVER DEVICE: message" with the device info that makes the record complete. */
function devPrintk(ctx: KapiContext, level: number, dev: bigint, fmt: Uint8Array, va: VaList): number {
  const body = vsprintf(ctx.memory, fmt, va, fmtOptions(ctx))
  if (dev === 0n) {
    return ctx.printk.store(concat([levelPrefix(level), utf8('(NULL device *): '), body]), { caller: ctx.caller?.() ?? 0 })
  }
  const { driver, name } = deviceNames(ctx, dev)
  return ctx.printk.store(concat([utf8(`${driver} ${name}: `), body]), { level, devInfo: true, caller: ctx.caller?.() ?? 0 })
}

/** netdev_name() + netdev_reg_state() of include/linux/netdevice.h. */
function netdevLabel(name: string, regState: number): string {
  const states = [' (uninitialized)', '', ' (unregistering)', ' (unregistered)', ' (released)', ' (dummy)']
  const shown = name === '' || name.includes('%') ? '(unnamed net_device)' : name
  return `${shown}${states[regState] ?? ' (unknown)'}`
}

/** __netdev_printk(): through the parent device when there is one, else a plain printk. */
function netdevPrintk(ctx: KapiContext, level: number, dev: bigint, fmt: Uint8Array, va: VaList): number {
  const body = vsprintf(ctx.memory, fmt, va, fmtOptions(ctx))
  const caller = ctx.caller?.() ?? 0
  if (dev === 0n) return ctx.printk.store(concat([levelPrefix(level), utf8('(NULL net_device): '), body]), { caller })
  const nd = ctx.resolveNetdev?.(dev)
  if (!nd) {
    note(ctx, `netdev_printk: struct net_device 0x${dev.toString(16)} is unknown to the simulator; its name is not printed as the kernel would`)
    return ctx.printk.store(concat([levelPrefix(level), utf8(`(unknown net_device 0x${dev.toString(16)}): `), body]), { caller })
  }
  const label = netdevLabel(nd.name, nd.regState)
  if (nd.parent !== undefined && nd.parent !== 0n) {
    const { driver, name } = deviceNames(ctx, nd.parent)
    return ctx.printk.store(concat([utf8(`${driver} ${name} ${label}: `), body]), { level, devInfo: true, caller })
  }
  return ctx.printk.store(concat([levelPrefix(level), utf8(`${label}: `), body]), { caller })
}

/** The KERN_<n> string a `const char *level` argument points to: its digit. */
function levelArg(call: CallArgs, i: number): number {
  const b = call.memory.read(call.arg(i), 2)
  return b[1]! - 0x30 // read() returned 2 bytes or faulted
}

// struct ratelimit_state: raw_spinlock_t lock; int interval, burst, printed, missed; unsigned long begin, flags.
const RS_INTERVAL = 4n
const RS_BURST = 8n
const RS_PRINTED = 12n
const RS_MISSED = 16n
const RS_BEGIN = 24n
const RS_FLAGS = 32n
const RATELIMIT_MSG_ON_RELEASE = 1n

/** ___ratelimit() over a guest struct ratelimit_state, on the virtual jiffies. */
export function ratelimit(ctx: KapiContext, rs: bigint, func: bigint): number {
  const mem = ctx.memory
  const interval = s32(readUint(mem, rs + RS_INTERVAL, 4))
  const burst = s32(readUint(mem, rs + RS_BURST, 4))
  if (!interval) return 1
  const now = jiffies(ctx.clock)
  let begin = readUint(mem, rs + RS_BEGIN, 8)
  let printed = s32(readUint(mem, rs + RS_PRINTED, 4))
  let missed = s32(readUint(mem, rs + RS_MISSED, 4))
  if (begin === 0n) begin = now
  // time_is_before_jiffies(begin + interval): the interval has passed.
  if (BigInt.asIntN(64, begin + BigInt(interval) - now) < 0n) {
    if (missed && !(readUint(mem, rs + RS_FLAGS, 8) & RATELIMIT_MSG_ON_RELEASE)) {
      const name = readCString(mem, func)
      ctx.printk.store(concat([levelPrefix(KERN_WARNING), name, utf8(`: ${missed} callbacks suppressed\n`)]), { caller: ctx.caller?.() ?? 0 })
      missed = 0
    }
    begin = now
    printed = 0
  }
  let ret = 0
  if (burst && burst > printed) {
    printed++
    ret = 1
  } else missed++
  writeUint(mem, rs + RS_BEGIN, 8, begin)
  writeUint(mem, rs + RS_PRINTED, 4, printed)
  writeUint(mem, rs + RS_MISSED, 4, missed)
  return ret
}

/**
 * The printk KernelFunctions, bound to a context.
 * @example const fns = printkFunctions(ctx); fns._printk(call) // call.arg(0) -> "\x016hello %d\n"
 */
export function printkFunctions(ctx: KapiContext): Record<string, KernelFunction> {
  const fns: Record<string, KernelFunction> = {
    _printk: (call) => vprintk(ctx, cstringArg(call, 0), call.varargs(1)),
    // printk_deferred only delays the console, not the record.
    _printk_deferred: (call) => vprintk(ctx, cstringArg(call, 0), call.varargs(1)),
    vprintk: (call) => vprintk(ctx, cstringArg(call, 0), guestVa(call.memory, call.arg(1))),
    // vprintk_emit(facility, level, dev_info, fmt, args): only facility 0 (the kernel) is modelled.
    vprintk_emit: (call) => {
      const level = s32(call.arg(1))
      return vprintk(ctx, cstringArg(call, 3), guestVa(call.memory, call.arg(4)), level < 0 ? undefined : level, call.arg(2) !== 0n)
    },
    dev_printk_emit: (call) => {
      const body = vsprintf(ctx.memory, cstringArg(call, 2), call.varargs(3), fmtOptions(ctx))
      return ctx.printk.store(body, { level: s32(call.arg(0)), devInfo: true, caller: ctx.caller?.() ?? 0 })
    },
    dev_vprintk_emit: (call) => {
      const body = vsprintf(ctx.memory, cstringArg(call, 2), guestVa(call.memory, call.arg(3)), fmtOptions(ctx))
      return ctx.printk.store(body, { level: s32(call.arg(0)), devInfo: true, caller: ctx.caller?.() ?? 0 })
    },
    _dev_printk: (call) => void devPrintk(ctx, levelArg(call, 0), call.arg(1), cstringArg(call, 2), call.varargs(3)),
    netdev_printk: (call) => void netdevPrintk(ctx, levelArg(call, 0), call.arg(1), cstringArg(call, 2), call.varargs(3)),
    ___ratelimit: (call) => ratelimit(ctx, call.arg(0), call.arg(1)),
    // WARN(cond, fmt...): the cut-here line and the message; the module's ud2 then gets the WARNING report.
    __warn_printk: (call) => {
      ctx.printk.store(utf8('\x014------------[ cut here ]------------\n'), { caller: ctx.caller?.() ?? 0 })
      vprintk(ctx, cstringArg(call, 0), call.varargs(1))
    },
    __printk_ratelimit: (call) => ratelimit(ctx, printkRatelimitState(ctx), call.arg(0)),
  }
  const levels: Array<[string, number]> = [
    ['emerg', 0],
    ['alert', 1],
    ['crit', 2],
    ['err', 3],
    ['warn', 4],
    ['notice', 5],
    ['info', 6],
  ]
  for (const [name, level] of levels) {
    fns[`_dev_${name}`] = (call) => void devPrintk(ctx, level, call.arg(0), cstringArg(call, 1), call.varargs(2))
    fns[`netdev_${name}`] = (call) => void netdevPrintk(ctx, level, call.arg(0), cstringArg(call, 1), call.varargs(2))
  }
  return fns
}

const stateOf = new WeakMap<KapiContext, bigint>()

/** printk_ratelimit_state (5 s, burst 10), kept in a page of its own in guest memory. */
function printkRatelimitState(ctx: KapiContext): bigint {
  let rs = stateOf.get(ctx)
  if (rs === undefined) {
    rs = ctx.heap.kmalloc(40, 'printk_ratelimit_state')
    writeUint(ctx.memory, rs + RS_INTERVAL, 4, 5 * HZ)
    writeUint(ctx.memory, rs + RS_BURST, 4, 10)
    stateOf.set(ctx, rs)
  }
  return rs
}
