import { Buffer } from 'node:buffer'
import type { ModuleBehaviour } from './types.js'
import { BEHAVIOUR_SECTION } from './behaviour.js'
import { MODULE_NAME_OFFSET, MODVERSION_INFO_SIZE, KERNEL_SYMBOL_SIZE, THIS_MODULE_SECTION, THIS_MODULE_SIZE_6_1 } from './module.js'
import {
  EM_X86_64,
  ET_REL,
  R_X86_64_64,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHF_WRITE,
  SHT_PROGBITS,
  SHT_RELA,
  SHT_STRTAB,
  SHT_SYMTAB,
  STB_GLOBAL,
  STB_LOCAL,
  STT_FUNC,
  STT_NOTYPE,
  STT_OBJECT,
} from './read.js'

/** What `defineModule` knows of a module without a real binary. */
export interface SyntheticModuleSpec {
  /** Module name (at most 55 bytes), written into `struct module` and `name=`. */
  name: string
  /** `license=` (e.g. 'GPL'); omitted when absent, as for a module without MODULE_LICENSE. */
  license?: string
  /** Further `.modinfo` entries in order (author, description, version, alias, softdep, parm, parmtype...). */
  modinfo?: Array<{ key: string; value: string }>
  /** Written as one `depends=a,b` entry, as modpost does (empty when absent). */
  depends?: string[]
  /** `vermagic=`; must match the kernel's unless loaded with --force. */
  vermagic: string
  /** Exported symbols; `crc` fills `__kcrctab[_gpl]` (all entries of a table need one for it to be written). */
  exports?: Array<{ name: string; gpl: boolean; crc?: number }>
  /** Undefined symbols the module needs, in this order. */
  imports?: string[]
  /** `__versions` entries (modversions CRCs of the imports; names of at most 55 bytes). */
  versions?: Array<{ name: string; crc: number }>
  behaviour: ModuleBehaviour
  /** Size of `.text` in bytes (drives the lsmod Size the loader computes); default 16 per function. */
  textSize?: number
}

/** Offsets of the init/exit pointers in 6.1 x86-64 `struct module` (from the host's modules' relocations). */
const INIT_OFFSET = 0x138
const EXIT_OFFSET = 0x350
const SHF_MERGE = 0x10n
const SHF_STRINGS = 0x20n
const SHF_INFO_LINK = 0x40n

interface OutSection {
  name: string
  type: number
  flags: bigint
  data: Uint8Array
  align: number
  entsize?: number
  link?: number
  info?: number
}

/** Growable string table that returns each string's offset. */
class StrTab {
  private parts: Buffer[] = [Buffer.alloc(1)]
  private size = 1
  private seen = new Map<string, number>()
  add(s: string): number {
    const known = this.seen.get(s)
    if (known !== undefined) return known
    const off = this.size
    const b = Buffer.from(`${s}\0`, 'utf8')
    this.parts.push(b)
    this.size += b.length
    this.seen.set(s, off)
    return off
  }
  bytes(): Uint8Array {
    return Buffer.concat(this.parts)
  }
}

/**
 * Build a minimal but valid x86-64 ET_REL `.ko` that {@link readModule} parses back to the spec:
 * `.gnu.linkonce.this_module` of 6.1's size with the name, `.modinfo`, `__ksymtab*`, undefined
 * symbols for imports, `__versions`, `.text`, and the behaviour as JSON in `.kmodspec.behaviour`.
 *
 * The spec is written as given: user input is validated once, by defineModule() (dsl/define.ts), before it
 * gets here (a name of at most 55 bytes, no NUL in any string, C identifiers, no export named twice).
 * @example const ko = buildSyntheticModule({ name: 'm', vermagic: profile.vermagic, behaviour: { init: { actions: [], returns: 0 }, functions: {} } })
 */
export function buildSyntheticModule(spec: SyntheticModuleSpec): Uint8Array {
  const { name, license, modinfo = [], depends = [], vermagic, exports = [], imports = [], versions = [], behaviour } = spec
  const hasInit = behaviour.init !== undefined
  const hasExit = behaviour.exit !== undefined

  // .text: one 16-byte slot per function; init returns its value, the rest return.
  const funcNames = [...(hasInit ? ['init_module'] : []), ...(hasExit ? ['cleanup_module'] : []), ...exports.map((e) => e.name)]
  const textSize = Math.max(spec.textSize ?? 16 * funcNames.length, 16 * funcNames.length, 1)
  const text = new Uint8Array(textSize).fill(0xcc)
  funcNames.forEach((f, i) => {
    const o = i * 16
    if (f === 'init_module') {
      text[o] = 0xb8
      new DataView(text.buffer).setInt32(o + 1, behaviour.init!.returns, true)
      text[o + 5] = 0xc3
    } else text[o] = 0xc3
  })

  // .modinfo, in modpost's shape: user entries, then depends=, name=, vermagic=.
  const entries = [...(license !== undefined ? [{ key: 'license', value: license }] : []), ...modinfo]
  entries.push({ key: 'depends', value: depends.join(',') }, { key: 'name', value: name }, { key: 'vermagic', value: vermagic })
  const modinfoBytes = Buffer.from(entries.map((e) => `${e.key}=${e.value}\0`).join(''), 'utf8')

  const sections: OutSection[] = [
    { name: '.text', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, data: text, align: 16 },
    { name: '.modinfo', type: SHT_PROGBITS, flags: SHF_ALLOC, data: modinfoBytes, align: 1 },
  ]
  const TEXT = 1

  // Exports: __ksymtab[_gpl] entries (struct kernel_symbol), names in __ksymtab_strings as 6.1 lays them out.
  const plain = exports.filter((e) => !e.gpl)
  const gpl = exports.filter((e) => e.gpl)
  const exportSyms: Array<{ name: string; section: number; value: number; strOff: number }> = []
  const crcSyms: Array<{ name: string; section: number; value: number }> = []
  const addTable = (list: typeof exports, tab: string, crcTab: string): void => {
    if (list.length === 0) return
    const index = sections.length + 1
    sections.push({ name: tab, type: SHT_PROGBITS, flags: SHF_ALLOC, data: new Uint8Array(list.length * KERNEL_SYMBOL_SIZE), align: 4 })
    list.forEach((e, i) => {
      exportSyms.push({ name: e.name, section: index, value: i * KERNEL_SYMBOL_SIZE, strOff: 0 })
    })
    if (list.every((e) => e.crc !== undefined)) {
      const crc = new Uint8Array(list.length * 4)
      const v = new DataView(crc.buffer)
      list.forEach((e, i) => v.setUint32(i * 4, e.crc! >>> 0, true))
      sections.push({ name: crcTab, type: SHT_PROGBITS, flags: SHF_ALLOC, data: crc, align: 4 })
      // modpost's __crc_<name> symbols: kmod's depmod lists exports from them.
      list.forEach((e, i) => crcSyms.push({ name: e.name, section: sections.length, value: i * 4 }))
    }
  }
  addTable(plain, '__ksymtab', '__kcrctab')
  addTable(gpl, '__ksymtab_gpl', '__kcrctab_gpl')
  let KSTR = 0
  if (exports.length > 0) {
    // Each name is followed by its (empty) namespace string, as 6.1's __KSYMTAB emits "name\0\0".
    const strings = Buffer.from(exports.map((e) => `${e.name}\0\0`).join(''), 'utf8')
    KSTR = sections.length + 1
    sections.push({ name: '__ksymtab_strings', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_MERGE | SHF_STRINGS, data: strings, align: 1, entsize: 1 })
    let off = 0
    for (const e of exports) {
      const s = exportSyms.find((x) => x.name === e.name)!
      s.strOff = off
      off += Buffer.byteLength(e.name) + 2
    }
  }

  if (versions.length > 0) {
    const data = new Uint8Array(versions.length * MODVERSION_INFO_SIZE)
    const v = new DataView(data.buffer)
    versions.forEach((e, i) => {
      v.setUint32(i * MODVERSION_INFO_SIZE, e.crc >>> 0, true)
      data.set(Buffer.from(e.name, 'utf8'), i * MODVERSION_INFO_SIZE + 8)
    })
    sections.push({ name: '__versions', type: SHT_PROGBITS, flags: SHF_ALLOC, data, align: 32 })
  }

  const thisModule = new Uint8Array(THIS_MODULE_SIZE_6_1)
  thisModule.set(Buffer.from(name, 'utf8'), MODULE_NAME_OFFSET)
  sections.push({ name: THIS_MODULE_SECTION, type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_WRITE, data: thisModule, align: 64 })
  const THIS = sections.length

  // Symbols: locals first (ELF rule), then globals, then the undefined imports.
  const strtab = new StrTab()
  type Sym = { name: string; bind: number; type: number; shndx: number; value: number; size: number }
  const syms: Sym[] = [{ name: '', bind: 0, type: 0, shndx: 0, value: 0, size: 0 }]
  for (const e of exportSyms) {
    syms.push({ name: `__ksymtab_${e.name}`, bind: STB_LOCAL, type: STT_NOTYPE, shndx: e.section, value: e.value, size: 0 })
    syms.push({ name: `__kstrtab_${e.name}`, bind: STB_LOCAL, type: STT_NOTYPE, shndx: KSTR, value: e.strOff, size: 0 })
  }
  for (const c of crcSyms) syms.push({ name: `__crc_${c.name}`, bind: STB_LOCAL, type: STT_NOTYPE, shndx: c.section, value: c.value, size: 0 })
  const firstGlobal = syms.length
  syms.push({ name: '__this_module', bind: STB_GLOBAL, type: STT_OBJECT, shndx: THIS, value: 0, size: THIS_MODULE_SIZE_6_1 })
  const symIndex = new Map<string, number>()
  funcNames.forEach((f, i) => {
    symIndex.set(f, syms.length)
    syms.push({ name: f, bind: STB_GLOBAL, type: STT_FUNC, shndx: TEXT, value: i * 16, size: 16 })
  })
  for (const imp of imports) {
    syms.push({ name: imp, bind: STB_GLOBAL, type: STT_NOTYPE, shndx: 0, value: 0, size: 0 })
  }

  const SYMTAB = sections.length + 3 // after the rela and behaviour sections below
  const relas: Array<{ offset: number; sym: number }> = []
  if (hasInit) relas.push({ offset: INIT_OFFSET, sym: symIndex.get('init_module')! })
  if (hasExit) relas.push({ offset: EXIT_OFFSET, sym: symIndex.get('cleanup_module')! })
  const rela = new Uint8Array(relas.length * 24)
  const rv = new DataView(rela.buffer)
  relas.forEach((r, i) => {
    rv.setBigUint64(i * 24, BigInt(r.offset), true)
    rv.setBigUint64(i * 24 + 8, (BigInt(r.sym) << 32n) | BigInt(R_X86_64_64), true)
    rv.setBigInt64(i * 24 + 16, 0n, true)
  })
  sections.push({ name: `.rela${THIS_MODULE_SECTION}`, type: SHT_RELA, flags: SHF_INFO_LINK, data: rela, align: 8, entsize: 24, link: SYMTAB, info: THIS })
  const behaviourJson = Buffer.from(JSON.stringify(behaviour), 'utf8')
  sections.push({ name: BEHAVIOUR_SECTION, type: SHT_PROGBITS, flags: 0n, data: behaviourJson, align: 1 })
  if (sections.length + 1 !== SYMTAB) throw new Error('internal: symbol table index moved')

  const symData = new Uint8Array(syms.length * 24)
  const sv = new DataView(symData.buffer)
  syms.forEach((s, i) => {
    const o = i * 24
    sv.setUint32(o, s.name ? strtab.add(s.name) : 0, true)
    sv.setUint8(o + 4, (s.bind << 4) | s.type)
    sv.setUint16(o + 6, s.shndx, true)
    sv.setBigUint64(o + 8, BigInt(s.value), true)
    sv.setBigUint64(o + 16, BigInt(s.size), true)
  })
  sections.push({ name: '.symtab', type: SHT_SYMTAB, flags: 0n, data: symData, align: 8, entsize: 24, link: SYMTAB + 1, info: firstGlobal })
  sections.push({ name: '.strtab', type: SHT_STRTAB, flags: 0n, data: strtab.bytes(), align: 1 })
  const shstr = new StrTab()
  const nameOffs = sections.map((s) => shstr.add(s.name))
  const shstrName = shstr.add('.shstrtab')
  sections.push({ name: '.shstrtab', type: SHT_STRTAB, flags: 0n, data: shstr.bytes(), align: 1 })
  nameOffs.push(shstrName)

  // Layout: ELF header, section contents (aligned), section header table.
  const offsets: number[] = []
  let pos = 64
  for (const s of sections) {
    pos = Math.ceil(pos / s.align) * s.align
    offsets.push(pos)
    pos += s.data.length
  }
  const shoff = Math.ceil(pos / 8) * 8
  const shnum = sections.length + 1
  const out = new Uint8Array(shoff + shnum * 64)
  const v = new DataView(out.buffer)
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0])
  v.setUint16(16, ET_REL, true)
  v.setUint16(18, EM_X86_64, true)
  v.setUint32(20, 1, true)
  v.setBigUint64(40, BigInt(shoff), true)
  v.setUint16(52, 64, true)
  v.setUint16(58, 64, true)
  v.setUint16(60, shnum, true)
  v.setUint16(62, shnum - 1, true)
  sections.forEach((s, i) => {
    // offsets and nameOffs hold one entry per section.
    const at = offsets[i]!
    out.set(s.data, at)
    const o = shoff + (i + 1) * 64
    v.setUint32(o, nameOffs[i]!, true)
    v.setUint32(o + 4, s.type, true)
    v.setBigUint64(o + 8, s.flags, true)
    v.setBigUint64(o + 24, BigInt(at), true)
    v.setBigUint64(o + 32, BigInt(s.data.length), true)
    v.setUint32(o + 40, s.link ?? 0, true)
    v.setUint32(o + 44, s.info ?? 0, true)
    v.setBigUint64(o + 48, BigInt(s.align), true)
    v.setBigUint64(o + 56, BigInt(s.entsize ?? 0), true)
  })
  return out
}

/** One section of {@link writeElfObject}'s output, in header-table order after the null section. */
export interface RawSection {
  name: string
  type: number
  flags?: number
  data: Uint8Array
  link?: number
  info?: number
  entsize?: number
  align?: number
}

/**
 * A relocatable ELF object of any class, byte order and machine, with the sections given and a
 * `.shstrtab` last: for foreign-architecture module files (i386, big-endian) that tools like
 * modinfo read although the kernel here would refuse them.
 *
 * @example writeElfObject({ elfClass: 32, msb: false, machine: 3, sections: [{ name: '.modinfo', type: 1, data: Buffer.from('license=GPL\0') }] })
 */
export function writeElfObject(o: { elfClass: 32 | 64; msb: boolean; machine: number; sections: RawSection[] }): Uint8Array {
  const is32 = o.elfClass === 32
  const ehsize = is32 ? 52 : 64
  const shsize = is32 ? 40 : 64
  const names: number[] = []
  let shstr = '\0'
  for (const s of [...o.sections, { name: '.shstrtab' }]) {
    names.push(shstr.length)
    shstr += `${s.name}\0`
  }
  const all: RawSection[] = [...o.sections, { name: '.shstrtab', type: SHT_STRTAB, data: Buffer.from(shstr, 'latin1'), align: 1 }]
  const offsets: number[] = []
  let pos = ehsize
  for (const s of all) {
    const a = Math.max(1, s.align ?? 1)
    pos = Math.ceil(pos / a) * a
    offsets.push(pos)
    pos += s.data.length
  }
  const shoff = Math.ceil(pos / 8) * 8
  const shnum = all.length + 1
  const out = new Uint8Array(shoff + shnum * shsize)
  const v = new DataView(out.buffer)
  const le = !o.msb
  const word = (at: number, value: number) => (is32 ? v.setUint32(at, value, le) : v.setBigUint64(at, BigInt(value), le))
  out.set([0x7f, 0x45, 0x4c, 0x46, is32 ? 1 : 2, o.msb ? 2 : 1, 1, 0])
  v.setUint16(16, ET_REL, le)
  v.setUint16(18, o.machine, le)
  v.setUint32(20, 1, le)
  word(is32 ? 32 : 40, shoff)
  v.setUint16(is32 ? 40 : 52, ehsize, le)
  v.setUint16(is32 ? 46 : 58, shsize, le)
  v.setUint16(is32 ? 48 : 60, shnum, le)
  v.setUint16(is32 ? 50 : 62, shnum - 1, le)
  all.forEach((s, i) => {
    // offsets and names hold one entry per section.
    const at = offsets[i]!
    out.set(s.data, at)
    const h = shoff + (i + 1) * shsize
    v.setUint32(h, names[i]!, le)
    v.setUint32(h + 4, s.type, le)
    word(h + 8, s.flags ?? 0)
    word(h + (is32 ? 16 : 24), at)
    word(h + (is32 ? 20 : 32), s.data.length)
    v.setUint32(h + (is32 ? 24 : 40), s.link ?? 0, le)
    v.setUint32(h + (is32 ? 28 : 44), s.info ?? 0, le)
    word(h + (is32 ? 32 : 48), s.align ?? 1)
    word(h + (is32 ? 36 : 56), s.entsize ?? 0)
  })
  return out
}
