// What the kernel functions share: guest memory, the log, the clock, the heap, and the lookups
// other parts of the simulator own (kallsyms, the device model).
import type { CallArgs, GuestMemory } from '../cpu/types.js'
import { readCString } from './guest.js'
import type { KernelHeap } from './heap.js'
import type { SymbolInfo, VsprintfOptions } from './vsprintf.js'

/** The clock the kernel functions read and advance: µs since boot, the same clock printk stamps (time.ts reads it). */
export interface VirtualClock {
  now(): number
  tick(us: number): void
}

/** dev_driver_string() and dev_name() of a struct device. */
export interface DeviceInfo {
  /** The driver's name, else the bus's, else the class's, else "" (dev_driver_string). */
  driver: string
  /** dev_name(); null prints as "(null)". */
  name: string | null
}

/** What __netdev_printk reads of a struct net_device. */
export interface NetdevInfo {
  /** dev->name as stored (a template like "eth%d" until registered). */
  name: string
  /** enum netdev_reg_state: 0 uninitialized, 1 registered, 2 unregistering, 3 unregistered, 4 released, 5 dummy. */
  regState: number
  /** dev->dev.parent, when the net_device has one. */
  parent?: bigint
}

/**
 * The kernel's ring buffer as the functions use it: sim/kernel/printk.ts's Printk has this shape
 * (`store` is vprintk_store on formatted bytes; `log` a complete kernel-internal record).
 */
export interface KernelLog {
  store(formatted: Uint8Array, options?: { level?: number; caller?: number; devInfo?: boolean }): number
  log(level: number, text: string): void
  since(from: number): Array<{ seq: number; level: number; text: string }>
  nextSeq(): number
}

/** The state and lookups behind the kernel functions of one simulated kernel. */
export interface KapiContext {
  readonly memory: GuestMemory
  readonly printk: KernelLog
  readonly clock: VirtualClock
  readonly heap: KernelHeap
  /** Caveats for the command being run (each added once). */
  readonly notes: string[]
  /** printk_caller_id(): the pid of the task running the module's code (KERN_CONT joins only its own records). */
  caller?: () => number
  /** kallsyms_lookup for %pS and friends. */
  resolveSymbol?: (addr: bigint) => SymbolInfo | undefined
  /** struct device -> its names, from the simulated device model. */
  resolveDevice?: (dev: bigint) => DeviceInfo | undefined
  /** struct net_device -> its name and state. */
  resolveNetdev?: (dev: bigint) => NetdevInfo | undefined
  /** /proc/sys/kernel/kptr_restrict (0 on the pinned kernel). */
  kptrRestrict?: number
  /**
   * A WARN in kernel code the simulator runs in TypeScript (after its message is logged): the CPU
   * side prints the "WARNING: CPU: 0 PID: ... at FILE:LINE FUNC" report and taints; without it, a note.
   */
  warn?: (at: { file: string; line: number; func: string }) => void
}

/** Adds a note once. */
export function note(ctx: KapiContext, text: string): void {
  if (!ctx.notes.includes(text)) ctx.notes.push(text)
}

const warnedOnce = new WeakMap<KapiContext, Set<string>>()

/**
 * WARN_ONCE(1, message) in kernel code run here: once per kernel and call site, the cut-here line
 * and the message at KERN_WARNING, then the CPU side's WARNING report (or a note without one).
 */
export function warnOnce(ctx: KapiContext, at: { file: string; line: number; func: string }, message: string): void {
  const key = `${at.file}:${at.line}`
  let seen = warnedOnce.get(ctx)
  if (!seen) warnedOnce.set(ctx, (seen = new Set()))
  if (seen.has(key)) return
  seen.add(key)
  const caller = ctx.caller?.() ?? 0
  ctx.printk.store(new TextEncoder().encode('\x014------------[ cut here ]------------\n'), { caller })
  ctx.printk.store(new TextEncoder().encode(`${message}\n`), { caller })
  if (ctx.warn) ctx.warn(at)
  else note(ctx, `${at.func}: the kernel prints a WARNING report (${at.file}:${at.line}) and taints W; the simulator printed only its message`)
}

/** The vsprintf options a context gives. */
export function fmtOptions(ctx: KapiContext): VsprintfOptions {
  return {
    resolveSymbol: ctx.resolveSymbol,
    notes: ctx.notes,
    kptrRestrict: ctx.kptrRestrict,
    warnOnce: (message) => warnOnce(ctx, { file: 'lib/vsprintf.c', line: 2661, func: 'format_decode' }, message),
  }
}

/** Argument `i` read as a NUL-terminated guest string (a `const char *`). */
export function cstringArg(call: CallArgs, i: number): Uint8Array {
  return readCString(call.memory, call.arg(i))
}
