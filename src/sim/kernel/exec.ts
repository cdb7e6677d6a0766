import type { BehaviourAction } from './types.js'
import { KERN_WARNING } from './printk.js'
import type { KernelState, SimModule } from './state.js'
import { findSymbol } from './symbols.js'

/** How deep calls may nest before the simulator stops following them (recursion guard). */
const MAX_DEPTH = 32

/**
 * Run a behaviour's actions as `mod`'s code: prints go to printk, calls run the callee's
 * own actions in the module that defines it (the module itself, else the exporter).
 */
export function runActions(k: KernelState, mod: SimModule, actions: readonly BehaviourAction[], depth = 0): void {
  if (depth > MAX_DEPTH) return
  for (const a of actions) {
    if ('print' in a) k.printk.printk(a.print)
    else if ('call' in a) call(k, mod, a.call, a.arg, depth)
  }
}

function call(k: KernelState, mod: SimModule, name: string, arg: string | undefined, depth: number): void {
  if (kernelHelper(k, mod, name, arg)) return
  const own = mod.behaviour.functions[name]
  if (own) return runActions(k, mod, own, depth + 1)
  const found = findSymbol(k, name, true)
  const owner = found?.owner
  const fn = owner?.behaviour.functions[name]
  if (owner && fn) runActions(k, owner, fn, depth + 1)
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
