import { SHF_ALLOC, SHF_EXECINSTR, SHF_RO_AFTER_INIT, SHF_WRITE, type KSection } from './elfcheck.js'
import { TOO_BIG } from '../../elf/read.js'

/** What layout_symtab() needs of the symbol table: each entry's section and name length. */
export interface LayoutSymbols {
  count: number
  /** st_shndx of entry i. */
  shndx(i: number): number
  /** strlen of entry i's name (0 when st_name is 0). */
  nameLen(i: number): number
}

export interface LayoutOptions {
  pageSize: number
  strictModuleRwx: boolean
  kallsyms: boolean
  /** CONFIG_KALLSYMS_ALL: data symbols are kept too (Debian: yes). */
  kallsymsAll: boolean
  symtabIndex: number
  strtabIndex: number
  pcpuIndex: number
  /** 6.4+ module_memory (profile/loader.ts): each kind of memory is an allocation of its own ({@link computeMemoryLayout}). */
  memoryTypes?: boolean
}

export interface ModuleLayout {
  /** core_layout.size: /sys/module/<m>/coresize. */
  coreSize: number
  /** init_layout.size while the module is coming. */
  initSize: number
  /** Where each SHF_ALLOC section was put (its sh_entsize after layout_sections()), by section index. */
  placement: Array<{ where: 'core' | 'init'; offset: number } | undefined>
  /** core_layout.text_size and init_layout.text_size: where kallsyms' last symbol of each ends. */
  textSize: { core: number; init: number }
  /**
   * The address range core and init take from the module area, from their first byte to their last: their size
   * on 6.1; on 6.4+ their kinds of memory one after the other, each followed by vmalloc's guard page.
   */
  span?: { core: number; init: number }
}

const ELF_SYM_SIZE = 24
/** sizeof(struct mod_kallsyms) on x86-64. */
const MOD_KALLSYMS_SIZE = 32

/**
 * module_get_offset()'s ALIGN(*size, a): `*size` is an unsigned int, so the whole computation is
 * 32-bit, (v + (u32)a - 1) & ~((u32)a - 1), for any sh_addralign a file gives. An alignment whose low
 * word is 0 (2^63, say: `a` is 2^32 here, see KSection.align) gives 0, as on the real kernel: the
 * section then overlaps the ones before it. ALIGN(0, a) is 0 for every a.
 */
export function align(v: number, a: number): number {
  if (!(a > 1) || v === 0) return v
  if (!Number.isFinite(v) || v >= TOO_BIG) return TOO_BIG
  const m = ((a >>> 0) - 1) >>> 0 // (u32)a - 1, wrapping: 0xffffffff when the low word is 0
  const sum = (v + m) % 2 ** 32
  return (sum & ~m) >>> 0
}

/**
 * layout_sections() + layout_symtab() of kernel/module (6.1): the sizes the module's
 * core and init allocations get. `sections` flags must already be rewritten the way
 * load_module() does (modinfo/__versions/percpu lose SHF_ALLOC, ro_after_init marked).
 */
export function computeLayout(sections: KSection[], syms: LayoutSymbols, o: LayoutOptions): ModuleLayout {
  if (o.memoryTypes) return computeMemoryLayout(sections, syms, o)
  const strict = (v: number) => (o.strictModuleRwx ? align(v, o.pageSize) : v)
  const masks: Array<[number, number]> = [
    [SHF_EXECINSTR | SHF_ALLOC, 0],
    [SHF_ALLOC, SHF_WRITE],
    [SHF_RO_AFTER_INIT | SHF_ALLOC, 0],
    [SHF_WRITE | SHF_ALLOC, 0],
    [SHF_ALLOC, 0],
  ]
  // Where each section went: undefined = nowhere (~0UL), 'core' or 'init' (INIT_OFFSET_MASK).
  const placed: Array<'core' | 'init' | undefined> = new Array(sections.length)
  const placement: ModuleLayout['placement'] = new Array(sections.length)
  const textSize = { core: 0, init: 0 }
  const isInit = (name: string) => name.startsWith('.init')
  let core = 0
  let init = 0
  for (const [m, [want, not]] of masks.entries()) {
    for (const s of sections) {
      if ((s.flags & want) !== want || s.flags & not || placed[s.index] || isInit(s.name)) continue
      const at = align(core, s.align || 1)
      core = at + s.size
      placed[s.index] = 'core'
      placement[s.index] = { where: 'core', offset: at }
    }
    if (m !== 3) core = strict(core)
    if (m === 0) textSize.core = core
  }
  for (const [m, [want, not]] of masks.entries()) {
    for (const s of sections) {
      if ((s.flags & want) !== want || s.flags & not || placed[s.index] || !isInit(s.name)) continue
      const at = align(init, s.align || 1)
      init = at + s.size
      placed[s.index] = 'init'
      placement[s.index] = { where: 'init', offset: at }
    }
    if (m === 0 || m === 1 || m === 4) init = strict(init)
    if (m === 0) textSize.init = init
  }
  if (!o.kallsyms || !o.symtabIndex) return { coreSize: core, initSize: init, placement, textSize }

  // symtabIndex names one of these sections (the loader found the symbol table there).
  const symsect = sections[o.symtabIndex]!
  const strsect = sections[o.strtabIndex]
  symsect.flags |= SHF_ALLOC
  init = align(init, symsect.align || 1) + symsect.size
  placed[symsect.index] = 'init'
  let ndst = 0
  let strtabSize = 0
  for (let i = 0; i < syms.count; i++) {
    if (i === 0 || isCoreSymbol(i)) {
      strtabSize += syms.nameLen(i) + 1
      ndst++
    }
  }
  const symoffs = align(core, symsect.align || 1)
  core = symoffs + ndst * ELF_SYM_SIZE + strtabSize + ndst
  core = strict(core)
  if (strsect) {
    strsect.flags |= SHF_ALLOC
    init = align(init, strsect.align || 1) + strsect.size
  }
  init = align(init, 8) + MOD_KALLSYMS_SIZE + syms.count
  init = strict(init)
  return { coreSize: core, initSize: init, placement, textSize }

  function isCoreSymbol(i: number): boolean {
    const shndx = syms.shndx(i)
    if (shndx === 0 || shndx >= sections.length || syms.nameLen(i) === 0) return false
    if (o.kallsymsAll && shndx === o.pcpuIndex) return true
    const sec = sections[shndx]!
    if (!(sec.flags & SHF_ALLOC) || placed[shndx] !== 'core') return false
    return o.kallsymsAll || (sec.flags & SHF_EXECINSTR) !== 0
  }
}

/** enum mod_mem_type (6.4+), in the order move_module() allocates them. */
const MOD_TEXT = 0,
  MOD_DATA = 1,
  MOD_RODATA = 2,
  MOD_RO_AFTER_INIT = 3,
  MOD_INIT_TEXT = 4,
  MOD_INIT_DATA = 5,
  MOD_INIT_RODATA = 6
/** __layout_sections()'s mask row -> memory type, for core and init sections (-1: MOD_INVALID). */
const CORE_TYPE = [MOD_TEXT, MOD_RODATA, MOD_RO_AFTER_INIT, MOD_DATA, MOD_DATA]
const INIT_TYPE = [MOD_INIT_TEXT, MOD_INIT_RODATA, -1, MOD_INIT_DATA, MOD_INIT_DATA]

/**
 * layout_sections() + layout_symtab() of 6.4+ (module_memory): each section goes to one of seven kinds of
 * memory, the kallsyms tables to the data ones, and move_module() allocates each kind on its own, page-rounded
 * (vmalloc adds a guard page after each). The simulator keeps core and init as one range each, with the kinds
 * at the offsets separate allocations would give them, so addresses and sizes are the kernel's.
 */
export function computeMemoryLayout(sections: KSection[], syms: LayoutSymbols, o: LayoutOptions): ModuleLayout {
  // size, rounded and base: one entry per memory type (MOD_TEXT..MOD_INIT_RODATA), hence the `!`s.
  const size = [0, 0, 0, 0, 0, 0, 0]
  const at: Array<{ type: number; offset: number } | undefined> = new Array(sections.length)
  const isInit = (name: string) => name.startsWith('.init')
  const masks: Array<[number, number]> = [
    [SHF_EXECINSTR | SHF_ALLOC, 0],
    [SHF_ALLOC, SHF_WRITE],
    [SHF_RO_AFTER_INIT | SHF_ALLOC, 0],
    [SHF_WRITE | SHF_ALLOC, 0],
    [SHF_ALLOC, 0],
  ]
  const put = (s: KSection, type: number) => {
    const offset = align(size[type]!, s.align || 1)
    size[type] = offset + s.size
    at[s.index] = { type, offset }
  }
  for (const init of [false, true]) {
    for (const [m, [want, not]] of masks.entries()) {
      // CORE_TYPE and INIT_TYPE have a row per mask.
      const type = (init ? INIT_TYPE : CORE_TYPE)[m]!
      for (const s of sections) {
        if ((s.flags & want) !== want || s.flags & not || at[s.index] || isInit(s.name) !== init || type < 0) continue
        put(s, type)
      }
    }
  }
  if (o.kallsyms && o.symtabIndex) {
    const symsect = sections[o.symtabIndex]!
    const strsect = sections[o.strtabIndex]
    symsect.flags |= SHF_ALLOC
    put(symsect, MOD_INIT_DATA)
    let ndst = 0
    let strtabSize = 0
    for (let i = 0; i < syms.count; i++) {
      if (i === 0 || isCoreSymbol(i)) {
        strtabSize += syms.nameLen(i) + 1
        ndst++
      }
    }
    size[MOD_DATA] = align(size[MOD_DATA]!, symsect.align || 1) + ndst * ELF_SYM_SIZE + strtabSize + ndst
    if (strsect) {
      strsect.flags |= SHF_ALLOC
      put(strsect, MOD_INIT_DATA)
    }
    size[MOD_INIT_DATA] = align(size[MOD_INIT_DATA]!, 8) + MOD_KALLSYMS_SIZE + syms.count
  }
  // module_memory_alloc() page-rounds every kind, strict RWX or not.
  const rounded = size.map((n) => align(n, o.pageSize))
  // Each kind's offset in its range: the kinds before it, each with its guard page.
  const base = [0, 0, 0, 0, 0, 0, 0]
  const span = { core: 0, init: 0 }
  for (const [range, types] of [
    ['core', [MOD_TEXT, MOD_DATA, MOD_RODATA, MOD_RO_AFTER_INIT]],
    ['init', [MOD_INIT_TEXT, MOD_INIT_DATA, MOD_INIT_RODATA]],
  ] as const) {
    let next = 0
    for (const t of types) {
      if (rounded[t] === 0) continue
      base[t] = next
      span[range] = next + rounded[t]!
      next = span[range] + o.pageSize
    }
  }
  const placement: ModuleLayout['placement'] = at.map((p) => p && { where: p.type >= MOD_INIT_TEXT ? 'init' : 'core', offset: base[p.type]! + p.offset })
  // The kallsyms tables are not placed sections (the 6.1 layout leaves them out too).
  placement[o.symtabIndex] = undefined
  if (o.strtabIndex) placement[o.strtabIndex] = undefined
  return {
    coreSize: rounded[MOD_TEXT]! + rounded[MOD_DATA]! + rounded[MOD_RODATA]! + rounded[MOD_RO_AFTER_INIT]!,
    initSize: rounded[MOD_INIT_TEXT]! + rounded[MOD_INIT_DATA]! + rounded[MOD_INIT_RODATA]!,
    placement,
    textSize: { core: rounded[MOD_TEXT]!, init: rounded[MOD_INIT_TEXT]! },
    span,
  }

  function isCoreSymbol(i: number): boolean {
    const shndx = syms.shndx(i)
    if (shndx === 0 || shndx >= sections.length || syms.nameLen(i) === 0) return false
    if (o.kallsymsAll && shndx === o.pcpuIndex) return true
    const sec = sections[shndx]!
    const p = at[shndx]
    if (!(sec.flags & SHF_ALLOC) || !p || p.type >= MOD_INIT_TEXT) return false
    return o.kallsymsAll || (sec.flags & SHF_EXECINSTR) !== 0
  }
}
