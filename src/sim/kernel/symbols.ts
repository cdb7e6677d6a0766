import { KERN_ERR, KERN_WARNING } from './printk.js'
import type { KernelState, SimModule } from './state.js'
import { TAINT_PROPRIETARY_MODULE, logOnce, tryToForceLoad } from './taint.js'
import { errno } from './types.js'

const { ENOENT, EINVAL, EBUSY } = errno

/** What find_symbol() found: owner undefined means vmlinux. */
export interface FoundSymbol {
  owner?: SimModule
  gpl: boolean
  /** null when the exporter has no CRCs. */
  crc: number | null
  namespace?: string
}

/**
 * find_symbol(): vmlinux's exports first (non-GPL then GPL), then each formed module,
 * newest first; GPL-only exports are invisible when `gplok` is false.
 */
export function findSymbol(k: KernelState, name: string, gplok: boolean): FoundSymbol | undefined {
  const ks = k.profile.symbols.get(name)
  if (ks && ks.module === 'vmlinux' && (gplok || !ks.gpl)) {
    return { gpl: ks.gpl, crc: k.profile.config.modversions ? ks.crc : null, namespace: ks.namespace }
  }
  for (const m of k.modules) {
    if (m.state === 'unformed') continue
    const e = m.exports.get(name)
    if (e && (gplok || !e.gpl)) return { owner: m, gpl: e.gpl, crc: e.crc ?? null }
  }
  return undefined
}

/** The parts of load_info that symbol resolution reads. */
export interface VersionInfo {
  /** info->name (modinfo "name", else struct module's). */
  name: string
  /** __versions entries, or undefined when index.vers is 0 (none, or ignored by flag). */
  versions?: Map<string, number>
  importNs: string[]
}

/** check_version(): 1 ok, 0 mismatch (logged). */
export function checkVersion(k: KernelState, info: VersionInfo, sym: string, mod: SimModule, crc: number | null): boolean {
  if (crc === null) return true
  if (!info.versions) return tryToForceLoad(k, mod, sym) === 0
  const have = info.versions.get(sym)
  if (have === undefined) {
    logOnce(k, 'no symbol version', KERN_WARNING, `${info.name}: no symbol version for ${sym}`)
    return true
  }
  if (have >>> 0 === crc >>> 0) return true
  k.printk.log(KERN_WARNING, `${info.name}: disagrees about version of symbol ${sym}`)
  return false
}

/**
 * resolve_symbol(): find, inherit taint, check the CRC and namespace, take a reference
 * on the owner (ref_module). Returns 0 or -errno; undefined means "not found" (NULL).
 */
export function resolveSymbol(k: KernelState, mod: SimModule, info: VersionInfo, name: string): number | undefined {
  const found = findSymbol(k, name, (mod.taints & (1 << TAINT_PROPRIETARY_MODULE)) === 0)
  if (!found) return undefined
  if (found.gpl) mod.usingGplOnly = true
  const owner = found.owner
  if (owner && owner.taints & (1 << TAINT_PROPRIETARY_MODULE)) {
    if (mod.usingGplOnly) {
      k.printk.log(KERN_ERR, `${mod.name}: module using GPL-only symbols uses symbols ${name} from proprietary module ${owner.name}.`)
      return undefined
    }
    if (!(mod.taints & (1 << TAINT_PROPRIETARY_MODULE))) {
      k.printk.log(KERN_WARNING, `${mod.name}: module uses symbols ${name} from proprietary module ${owner.name}, inheriting taint.`)
      mod.taints |= 1 << TAINT_PROPRIETARY_MODULE
    }
  }
  if (!checkVersion(k, info, name, mod, found.crc)) return -EINVAL
  if (found.namespace && !info.importNs.includes(found.namespace)) {
    k.printk.log(KERN_ERR, `${mod.name}: module uses symbol (${name}) from namespace ${found.namespace}, but does not import it.`)
    return -EINVAL
  }
  return refModule(mod, owner)
}

/** ref_module(): a uses b; the first use takes a reference and links holders. */
export function refModule(a: SimModule, b: SimModule | undefined): number {
  if (!b || b.sources.includes(a)) return 0
  if (b.state === 'coming') return -EBUSY
  if (b.state !== 'live' || b.refcnt === 0) return -ENOENT
  b.refcnt++
  b.sources.unshift(a)
  a.targets.unshift(b)
  return 0
}

/** module_unload_free(): drop every use this module holds. */
export function unrefAll(m: SimModule): void {
  for (const t of m.targets) {
    if (t.refcnt > 0) t.refcnt--
    t.sources = t.sources.filter((s) => s !== m)
  }
  m.targets = []
}
