import type { BehaviourAction } from './types.js'
import { KERN_WARNING } from './printk.js'
import type { KernelState, SimModule } from './state.js'
import { findSymbol } from './symbols.js'

/** KERN_EMERG: the level of the kernel's BUG: lines. */
const KERN_EMERG = 0

/**
 * Nested calls before the 16 KiB kernel stack would hit its guard page. A real frame's size is
 * not in the model: any recursion without end overflows, a bounded one this deep is taken to.
 */
export const MAX_CALL_DEPTH = 1024
/** Actions one syscall may run: past this the CPU would be stuck for the soft-lockup watchdog. */
export const ACTION_BUDGET = 100_000

/**
 * The kernel died in a module's code: a stack overflow (an oops) or a runaway (the soft-lockup
 * watchdog's report). Its records are already in the log; the syscall never returns.
 */
export class SimKernelFault extends Error {
  constructor(
    readonly kind: 'oops' | 'hang' | 'panic',
    /** The records the kernel printed, one per line. */
    readonly report: string,
  ) {
    super(report.split('\n')[0])
    this.name = 'SimKernelFault'
  }
}

interface Run {
  depth: number
  left: number
}

/**
 * Run a behaviour's actions as `mod`'s code: prints go to printk, calls run the callee's
 * own actions in the module that defines it (the module itself, else the exporter).
 * A model that recurses without end oopses like a stack overflow, one that runs past
 * {@link ACTION_BUDGET} ends in the soft-lockup report: both throw {@link SimKernelFault}.
 */
export function runActions(k: KernelState, mod: SimModule, actions: readonly BehaviourAction[]): void {
  run(k, mod, actions, { depth: 0, left: ACTION_BUDGET }, mod.name)
}

function run(k: KernelState, mod: SimModule, actions: readonly BehaviourAction[], r: Run, fn: string): void {
  // A model read from a file may be any JSON: a list that is not one does nothing.
  if (!Array.isArray(actions)) return
  for (const a of actions) {
    if (--r.left < 0) fault(k, 'hang', mod, fn)
    if (typeof a !== 'object' || a === null) continue
    if ('print' in a && typeof a.print === 'string') k.printk.printk(a.print)
    else if ('call' in a && typeof a.call === 'string') call(k, mod, a.call, typeof a.arg === 'string' ? a.arg : undefined, r)
  }
}

function call(k: KernelState, mod: SimModule, name: string, arg: string | undefined, r: Run): void {
  if (kernelHelper(k, mod, name, arg)) return
  const own = Object.hasOwn(mod.behaviour.functions, name) ? mod.behaviour.functions[name] : undefined
  let owner = mod
  let fn = own
  if (!fn) {
    const found = findSymbol(k, name, true)
    if (!found?.owner || !Object.hasOwn(found.owner.behaviour.functions, name)) return
    owner = found.owner
    fn = found.owner.behaviour.functions[name]! // hasOwn just said so
  }
  if (++r.depth > MAX_CALL_DEPTH) fault(k, 'oops', owner, name)
  run(k, owner, fn, r, name)
  r.depth--
}

/** Log what the kernel prints for the fault, then stop the syscall. */
function fault(k: KernelState, kind: 'oops' | 'hang', mod: SimModule, fn: string): never {
  const lines =
    kind === 'oops'
      ? [
          'BUG: TASK stack guard page was hit at 0000000000000000 (stack is 0000000000000000..0000000000000000)',
          'stack guard page: 0000 [#1] PREEMPT SMP NOPTI',
        ]
      : ['watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [insmod:1]']
  for (const line of lines) k.printk.log(KERN_EMERG, line)
  k.notes.push(
    kind === 'oops'
      ? `${mod.name}: ${fn} calls itself more than ${MAX_CALL_DEPTH} deep: the simulator stops it as the kernel's stack guard page would; the pointers, registers and call trace of the real report are not simulated`
      : `${mod.name}: ${fn} ran past the simulator's ${ACTION_BUDGET} actions: taken as a CPU stuck in the module (the real kernel's watchdog reports it after about 20 s); the task name, PID and registers of the real report are not simulated`,
  )
  throw new SimKernelFault(kind, lines.join('\n'))
}

/**
 * vmlinux functions that change loader state: symbol_get/put take and drop a reference
 * on the exporter; try_module_get/__module_get/module_put are taken to act on THIS_MODULE,
 * the only argument the model cannot see but modules almost always pass.
 */
function kernelHelper(k: KernelState, mod: SimModule, name: string, arg: string | undefined): boolean {
  switch (name) {
    case '__symbol_get': {
      if (arg === undefined) return true
      const found = findSymbol(k, arg, true)
      if (!found) return true
      if (!found.gpl) {
        k.printk.log(KERN_WARNING, `failing symbol_get of non-GPLONLY symbol ${arg}.`)
        return true
      }
      const o = found.owner
      if (o && o.state === 'live' && o.refcnt > 0) o.refcnt++
      return true
    }
    case '__symbol_put': {
      const o = arg === undefined ? undefined : findSymbol(k, arg, true)?.owner
      if (o && o.refcnt > 0) o.refcnt--
      return true
    }
    case 'try_module_get':
    case '__module_get':
      if (mod.state !== 'going' && mod.refcnt > 0) mod.refcnt++
      return true
    case 'module_put':
      if (mod.refcnt > 0) mod.refcnt--
      return true
    default:
      return false
  }
}
