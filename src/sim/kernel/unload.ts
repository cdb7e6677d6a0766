import type { KernelState } from './state.js'
import { findModule, MODULE_REF_BASE } from './state.js'
import { runActions } from './exec.js'
import { machineOf, unmapModule } from './machine.js'
import { runModuleFunction } from './oops.js'
import { unrefAll } from './symbols.js'
import { addTaint, TAINT_FORCED_RMMOD } from './taint.js'
import { SYSCALL_COST_US } from './load.js'
import { errno } from './types.js'

const { EPERM, ENOENT, EBUSY, EWOULDBLOCK } = errno

const O_TRUNC = 0o1000
/** MODULE_NAME_LEN: 64 - sizeof(unsigned long). */
const MODULE_NAME_LEN = 56

/** try_force_unload() with CONFIG_MODULE_FORCE_UNLOAD: O_TRUNC forces, tainting R. */
function tryForceUnload(k: KernelState, flags: number): boolean {
  if (!k.profile.config.moduleForceUnload || !(flags & O_TRUNC)) return false
  addTaint(k, TAINT_FORCED_RMMOD, true)
  return true
}

/** delete_module(2) of kernel/module/main.c (6.1). */
export function deleteModule(k: KernelState, name: string, flags: number): number {
  if (k.modulesDisabled) return -EPERM
  if (!k.profile.config.moduleUnload) return -ENOSYS_UNLOAD
  k.printk.tick(SYSCALL_COST_US)
  const len = Buffer.byteLength(name)
  if (len === 0 || len >= MODULE_NAME_LEN) return -ENOENT
  const mod = findModule(k, name, false)
  if (!mod) return -ENOENT
  if (mod.sources.length > 0) return -EWOULDBLOCK
  if (mod.state !== 'live') return -EBUSY
  if (mod.hasInit && !mod.hasExit && !tryForceUnload(k, flags)) return -EBUSY
  // try_stop_module(): only the loader's base reference may remain, unless forced.
  if (mod.refcnt - MODULE_REF_BASE !== 0) {
    if (!tryForceUnload(k, flags)) return -EWOULDBLOCK
  }
  mod.refcnt = Math.max(0, mod.refcnt - MODULE_REF_BASE)
  mod.state = 'going'
  if (mod.code) {
    if (mod.code.exit) runModuleFunction(k, machineOf(k), mod, mod.code.exit, 'rmmod')
  } else if (mod.hasExit && mod.behaviour.exit) runActions(k, mod, mod.behaviour.exit.actions)
  mod.state = 'unformed'
  unrefAll(mod)
  unmapModule(k, mod)
  k.area.free(mod.address)
  k.modules = k.modules.filter((m) => m !== mod)
  mod.state = 'gone'
  return 0
}

/** Without CONFIG_MODULE_UNLOAD the syscall does not exist. */
const ENOSYS_UNLOAD = 38
