import type { KernelProfile } from '../../profile/types.js'
import type { ModuleBehaviour } from './types.js'
import type { Printk } from './printk.js'
import type { ParamInstance } from './params.js'
import type { ModuleArea } from './alloc.js'
import type { SparseMemory } from '../cpu/index.js'
import type { KernelApi } from '../kapi/index.js'

/** enum module_state, plus 'gone' once freed (kept for stale references). */
export type ModState = 'unformed' | 'coming' | 'live' | 'going' | 'gone'

/** One export of a loaded module: `crc` only when the module was built with modversions. */
export interface ModExport {
  gpl: boolean
  crc?: number
}

/** struct module, as far as the simulator needs it. */
export interface SimModule {
  name: string
  state: ModState
  /** Bitmask of TAINT_* bits (mod->taints). */
  taints: number
  /** atomic refcnt including MODULE_REF_BASE (1). */
  refcnt: number
  /** Modules using this one (holders), newest first like list_add on source_list. */
  sources: SimModule[]
  /** Modules this one uses, newest first (target_list). */
  targets: SimModule[]
  exports: Map<string, ModExport>
  /** Export names in __ksymtab then __ksymtab_gpl order, for duplicate checks. */
  exportOrder: string[]
  hasInit: boolean
  hasExit: boolean
  coreSize: number
  initSize: number
  address: bigint
  /** The init allocation while the module is coming (0n when none). */
  initAddress: bigint
  params: ParamInstance[]
  behaviour: ModuleBehaviour
  version?: string
  srcversion?: string
  usingGplOnly: boolean
  /** The module's mapped code, when it runs on the simulated CPU (not a defineModule() model). */
  code?: ModuleCode
}

/** What the simulator keeps of a module's code once it is mapped. */
export interface ModuleCode {
  /** Defined symbols (functions and objects) by name, at their load addresses. */
  symbols: Map<string, bigint>
  /** The same, sorted by address, for kallsyms lookups (%pS, the oops report's RIP line). */
  kallsyms: Array<{ addr: bigint; name: string }>
  /** &__this_module: what THIS_MODULE passes to try_module_get() and friends. */
  thisModule: bigint
  init?: bigint
  exit?: bigint
  /** The core and init allocations, with where their text ends (kallsyms' bound for the last symbol). */
  core: { addr: bigint; size: number; text: number }
  init_: { addr: bigint; size: number; text: number } | undefined
  /** The relocated __param array: entry i's variable pointer is at +40*i+32. */
  params?: bigint
  /** The relocated __bug_table: where each BUG()/WARN() sits, with its file, line and flags. */
  bugTable?: { addr: bigint; count: number }
}

/** What the loader and the /proc and /sys views use of the CPU side (machine.ts's Machine, made by machineOf()). */
export interface KernelMachine {
  readonly memory: SparseMemory
  readonly api: KernelApi
}

/** The whole simulated kernel's mutable state. */
export interface KernelState {
  profile: KernelProfile
  /** The `modules` list: newest first, as list_add_rcu() puts them. */
  modules: SimModule[]
  /** tainted_mask. */
  tainted: number
  /** lib/debug_locks.c: cleared by the first LOCKDEP_NOW_UNRELIABLE taint. */
  debugLocks: boolean
  /** pr_*_once sites that have fired, by key. */
  once: Set<string>
  modulesDisabled: boolean
  printk: Printk
  /** Where module_alloc() places core and init allocations. */
  area: ModuleArea
  overrides: Map<string, ModuleBehaviour>
  /** Caveats for the user, drained by SimKernel.takeNotes(). */
  notes: string[]
  /** The CPU and memory modules' own code runs on, made by the first one (machine.ts). */
  machine?: KernelMachine
  /** Oopses so far (the "[#N]" of the next report). */
  oopses?: number
}

export function findModule(k: KernelState, name: string, evenUnformed: boolean): SimModule | undefined {
  return k.modules.find((m) => m.name === name && (evenUnformed || m.state !== 'unformed'))
}

/** MODULE_REF_BASE: refcnt of an unused live module. */
export const MODULE_REF_BASE = 1

export function refcount(m: SimModule): number {
  return m.refcnt - MODULE_REF_BASE
}
