// The kernel functions a module calls, implemented in TypeScript (SysV ABI through CallArgs), and the
// kernel variables it reads. One createKernelApi() per simulated kernel.
import type { GuestMemory, KernelFunction } from '../cpu/types.js'
import { allocFunctions, CacheRegistry } from './alloc.js'
import { note, type DeviceInfo, type KapiContext, type KernelLog, type NetdevInfo } from './context.js'
import { dataSymbols, type DataSymbol } from './data.js'
import { KernelHeap, VMALLOC_BASE, type HeapOptions } from './heap.js'
import { hexdumpFunctions } from './hexdump.js'
import { kstrtoxFunctions } from './kstrtox.js'
import { listFunctions } from './lists.js'
import { lockFunctions } from './locks.js'
import { miscFunctions, RcuQueue } from './misc.js'
import { textFunctions } from './text.js'
import { printkFunctions } from './printk.js'
import { stringFunctions } from './strings.js'
import { timeFunctions, type VirtualClock } from './time.js'
import type { SymbolInfo } from './vsprintf.js'

export type { DeviceInfo, KapiContext, KernelLog, NetdevInfo } from './context.js'
export type { DataSymbol } from './data.js'
export { KernelBug, KernelHeap, ZERO_SIZE_PTR, KMALLOC_BASE, VMALLOC_BASE } from './heap.js'
export { vsprintf, type SymbolInfo, type VsprintfOptions } from './vsprintf.js'
export { guestVa, listVa } from './va.js'
export { errname } from './errname.js'
export { jiffies, HZ, INITIAL_JIFFIES, type VirtualClock } from './time.js'

/** Options of {@link createKernelApi}. */
export interface KernelApiOptions {
  memory: GuestMemory
  /** The kernel's ring buffer (a sim/kernel Printk); it is also the virtual clock unless `clock` is given. */
  printk: KernelLog & Partial<VirtualClock>
  clock?: VirtualClock
  heap?: HeapOptions
  /** Where caveats go (each once); default a fresh list, read it from the result. */
  notes?: string[]
  caller?: () => number
  resolveSymbol?: (addr: bigint) => SymbolInfo | undefined
  resolveDevice?: (dev: bigint) => DeviceInfo | undefined
  resolveNetdev?: (dev: bigint) => NetdevInfo | undefined
  kptrRestrict?: number
  warn?: KapiContext['warn']
}

export interface KernelApi {
  readonly context: KapiContext
  /** Exported kernel function name -> implementation. */
  readonly functions: Record<string, KernelFunction>
  /** Exported kernel variables to place in guest memory. */
  readonly data: DataSymbol[]
  /** The implementation of `name`, or the unmodelled stand-in: returns 0 and notes the name. */
  lookup(name: string): KernelFunction
  /** A grace period: frees what kfree_rcu queued. Call when module code returns to its syscall. */
  quiesce(): void
}

function clockOf(log: KernelLog & Partial<VirtualClock>): VirtualClock {
  if (typeof log.now !== 'function' || typeof log.tick !== 'function') {
    throw new TypeError('createKernelApi: give options.clock, or a printk with now() and tick() (sim/kernel Printk)')
  }
  return log as VirtualClock
}

/**
 * Everything kapi models, bound to one kernel's memory, log and clock.
 * @example
 * const api = createKernelApi({ memory, printk: kernel.printk })
 * api.lookup('_printk')(call) // formats with the kernel's vsprintf and stores the record
 */
export function createKernelApi(o: KernelApiOptions): KernelApi {
  const context: KapiContext = {
    memory: o.memory,
    printk: o.printk,
    clock: o.clock ?? clockOf(o.printk),
    heap: new KernelHeap(o.memory, o.heap),
    notes: o.notes ?? [],
    caller: o.caller,
    resolveSymbol: o.resolveSymbol,
    resolveDevice: o.resolveDevice,
    resolveNetdev: o.resolveNetdev,
    kptrRestrict: o.kptrRestrict,
    warn: o.warn,
  }
  const caches = new CacheRegistry(context)
  const rcu = new RcuQueue((addr) => {
    const warning = context.heap.free(addr, addr >= VMALLOC_BASE ? 'vfree' : 'kfree')
    if (warning) note(context, warning)
  })
  const functions: Record<string, KernelFunction> = {
    ...stringFunctions(context),
    ...kstrtoxFunctions(),
    ...allocFunctions(context, caches),
    ...printkFunctions(context),
    ...lockFunctions(context),
    ...timeFunctions(context),
    ...listFunctions(context),
    ...textFunctions(context),
    ...hexdumpFunctions(context),
    ...miscFunctions(context, rcu),
  }
  return {
    context,
    functions,
    data: dataSymbols(context, caches),
    quiesce: () => rcu.quiesce(),
    lookup: (name) =>
      functions[name] ??
      (() => {
        note(context, `${name}: not modelled by the simulator; it returned 0`)
        return 0
      }),
  }
}
