import { KERN_WARNING, KERN_NOTICE } from './printk.js'
import type { KernelState, SimModule } from './state.js'

/** TAINT_* bit numbers of include/linux/panic.h (6.1). */
export const TAINT_PROPRIETARY_MODULE = 0
export const TAINT_FORCED_MODULE = 1
export const TAINT_FORCED_RMMOD = 3
export const TAINT_USER = 6
export const TAINT_CRAP = 10
export const TAINT_OOT_MODULE = 12
export const TAINT_UNSIGNED_MODULE = 13
export const TAINT_LIVEPATCH = 15
export const TAINT_TEST = 18

/** kernel/panic.c taint_flags[]: letter and whether it is a per-module taint, by bit. */
const TAINT_FLAGS: ReadonlyArray<readonly [string, boolean]> = [
  ['P', true],
  ['F', true],
  ['S', false],
  ['R', false],
  ['M', false],
  ['B', false],
  ['U', false],
  ['D', false],
  ['A', false],
  ['W', false],
  ['C', true],
  ['I', false],
  ['O', true],
  ['E', true],
  ['L', false],
  ['K', true],
  ['X', true],
  ['T', true],
  ['N', true],
]

export function testTaint(k: KernelState, flag: number): boolean {
  return (k.tainted & (1 << flag)) !== 0
}

/** add_taint(): the first LOCKDEP_NOW_UNRELIABLE taint turns lock debugging off, saying so. */
export function addTaint(k: KernelState, flag: number, lockdepUnreliable: boolean): void {
  if (lockdepUnreliable && k.debugLocks) {
    k.debugLocks = false
    k.printk.log(KERN_WARNING, 'Disabling lock debugging due to kernel taint')
  }
  k.tainted |= 1 << flag
}

export function addTaintModule(k: KernelState, mod: SimModule, flag: number, lockdepUnreliable: boolean): void {
  addTaint(k, flag, lockdepUnreliable)
  mod.taints |= 1 << flag
}

/** module_flags_taint(): the per-module letters in bit order, e.g. "OE". */
export function moduleTaintLetters(taints: number): string {
  let s = ''
  TAINT_FLAGS.forEach(([c, module], bit) => {
    if (module && (taints & (1 << bit)) !== 0) s += c
  })
  return s
}

/** module_flags(mod, buf, true) as /proc/modules shows it ("(OE)", "(OE+)"), or '' without taints. */
export function moduleFlags(mod: SimModule): string {
  if (!mod.taints && mod.state !== 'going' && mod.state !== 'coming') return ''
  let s = '(' + moduleTaintLetters(mod.taints)
  if (mod.state === 'going') s += '-'
  if (mod.state === 'coming') s += '+'
  return s + ')'
}

/** try_to_force_load() with CONFIG_MODULE_FORCE_LOAD=y: taint F, warn once while untainted. */
export function tryToForceLoad(k: KernelState, mod: SimModule, reason: string): number {
  if (!testTaint(k, TAINT_FORCED_MODULE)) k.printk.log(KERN_WARNING, `${mod.name}: ${reason}: kernel tainted.`)
  addTaintModule(k, mod, TAINT_FORCED_MODULE, true)
  return 0
}

/** pr_*_once(): print the first time this call site fires in this boot. */
export function logOnce(k: KernelState, key: string, level: number, text: string): void {
  if (k.once.has(key)) return
  k.once.add(key)
  k.printk.log(level, text)
}

export { KERN_NOTICE }
