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
import { BlockRegistry } from './block.js'
import type { BootRegistries } from './boot-registries.js'
import { DeviceRegistry } from './chrdev.js'
import { CryptoRegistry } from './crypto.js'
import { Debugfs } from './debugfs.js'
import { DriverRegistry } from './drivers.js'
import { idrFunctions } from './idr.js'
import { NetdevRegistry } from './netdev.js'
import { notifierFunctions } from './notifiers.js'
import { paramOpsFunctions } from './param-ops.js'
import { percpuFunctions } from './percpu-alloc.js'
import { NO_HOST, type RegistryHost, type RegistryView } from './registry.js'
import { Timers } from './timers.js'
import { Workqueues } from './workqueue.js'

export type { DeviceInfo, KapiContext, KernelLog, NetdevInfo } from './context.js'
export type { DataSymbol } from './data.js'
export { KernelBug, KernelHeap, ZERO_SIZE_PTR, KMALLOC_BASE, VMALLOC_BASE } from './heap.js'
export { vsprintf, type SymbolInfo, type VsprintfOptions } from './vsprintf.js'
export { guestVa, listVa } from './va.js'
export { errname } from './errname.js'
export { jiffies, HZ, INITIAL_JIFFIES, type VirtualClock } from './time.js'
export type { RegistryHost, RegistryView } from './registry.js'
export { parseBootRegistries, type BootRegistries } from './boot-registries.js'

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
  /** The loader's module references and calls into module code, for the registries (default: none). */
  host?: RegistryHost
  /** request_module(): the kernel runs /sbin/modprobe NAME; default a note that it did not. */
  requestModule?: (name: string) => void
  /** The %gs base: dynamic per-CPU pointers are offsets from it (default 0). */
  percpuBase?: bigint
  /** What the kernel registered at boot (majors, misc minors, filesystems), captured from the real kernel. */
  boot?: BootRegistries
}

export interface KernelApi {
  readonly context: KapiContext
  /** Exported kernel function name -> implementation (all of them in one object, made on first use). */
  readonly functions: Record<string, KernelFunction>
  /** Whether kapi implements the kernel function `name`. */
  has(name: string): boolean
  /** Exported kernel variables to place in guest memory (made on first use). */
  readonly data: DataSymbol[]
  /** The implementation of `name`, or the unmodelled stand-in: returns 0 and notes the name. */
  lookup(name: string): KernelFunction
  /** Back at the syscall: queued work runs, then a grace period frees what kfree_rcu queued. Call when module code returns to its syscall. */
  quiesce(): void
  /** The files under /proc and /sys that modules' registrations add (crypto, block, net, misc, filesystems, sysfs directories). */
  readonly views: RegistryView
}

/** Which table (by position) holds each function name, learnt from the first kernel's tables. */
let tableOfName: Map<string, number> | undefined

function learnTables(tables: Array<Record<string, KernelFunction>>): Map<string, number> {
  const where = new Map<string, number>()
  tables.forEach((t, i) => {
    for (const name of Object.keys(t)) if (!where.has(name)) where.set(name, i)
  })
  return where
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
  const host = o.host ?? NO_HOST
  const requestModule =
    o.requestModule ?? ((name: string) => note(context, `request_module(${name}): the kernel runs /sbin/modprobe ${name}; the simulator did not`))
  const crypto = new CryptoRegistry(context, host, requestModule)
  const block = new BlockRegistry(context, o.boot)
  const devices = new DeviceRegistry(context, o.boot, () => block.majors)
  const netdevs = new NetdevRegistry(context, host)
  context.resolveNetdev ??= (dev) => netdevs.info(dev)
  const drivers = new DriverRegistry(context)
  const workqueues = new Workqueues(context, host)
  const timers = new Timers(context, host)
  const debugfs = new Debugfs(context)
  const registries: RegistryView[] = [crypto, block, devices, netdevs, drivers, debugfs]
  const caches = new CacheRegistry(context)
  const rcu = new RcuQueue((addr) => {
    const warning = context.heap.free(addr, addr >= VMALLOC_BASE ? 'vfree' : 'kfree')
    if (warning) note(context, warning)
  })
  // Each table is made when a module first imports one of its names: a kernel uses a few of ~380 functions,
  // and making them all (closures over this kernel) for every fresh kernel was most of its start.
  const factories: Array<() => Record<string, KernelFunction>> = [
    () => stringFunctions(context),
    () => kstrtoxFunctions(),
    () => allocFunctions(context, caches),
    () => printkFunctions(context),
    () => lockFunctions(context),
    () => timeFunctions(context),
    () => listFunctions(context),
    () => textFunctions(context),
    () => hexdumpFunctions(context),
    () => miscFunctions(context, rcu),
    () => crypto.functions(),
    () => block.functions(),
    () => devices.functions(),
    () => netdevs.functions(),
    () => drivers.functions(),
    () => workqueues.functions(),
    () => timers.functions(),
    () => debugfs.functions(),
    () => notifierFunctions(context),
    () => idrFunctions(context, host),
    () => percpuFunctions(context, o.percpuBase ?? 0n),
    () => paramOpsFunctions(),
  ]
  const made: Array<Record<string, KernelFunction> | undefined> = new Array(factories.length)
  const table = (i: number) => (made[i] ??= factories[i]!())
  const all = () => factories.map((_, i) => table(i))
  tableOfName ??= learnTables(all())
  const find = (name: string): KernelFunction | undefined => {
    const i = tableOfName!.get(name)
    if (i !== undefined && Object.hasOwn(table(i), name)) return table(i)[name]
    // not where the first kernel's tables had it: ask every table (never the case while each table's names are fixed)
    for (const t of all()) if (Object.hasOwn(t, name)) return t[name]
    return undefined
  }
  let merged: Record<string, KernelFunction> | undefined
  let data: DataSymbol[] | undefined
  return {
    context,
    get functions() {
      return (merged ??= Object.assign({}, ...all()))
    },
    has: (name) => find(name) !== undefined,
    get data() {
      return (data ??= [...dataSymbols(context, caches), ...devices.data()])
    },
    views: {
      read: (path) => registries.map((r) => r.read(path)).find((t) => t !== undefined),
      list: (path) => registries.map((r) => r.list(path)).find((t) => t !== undefined),
    },
    // Back at the syscall boundary: due timers and queued work run (softirq, kworker), then the RCU grace period.
    quiesce: () => {
      timers.runDue()
      workqueues.drain()
      rcu.quiesce()
    },
    lookup: (name) =>
      find(name) ??
      (() => {
        note(context, `${name}: not modelled by the simulator; it returned 0`)
        return 0
      }),
  }
}
