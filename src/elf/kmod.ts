/**
 * A module file as libkmod (kmod 30, libkmod-elf.c) reads it: any ELF class, byte order and machine,
 * the few header checks kmod_elf_new makes, sections found by name, and kmod's own errno. Debian
 * builds kmod with assertions on, so the inputs that trip one of libkmod's `assert()`s are
 * reported as the abort they cause ({@link KmodAbort}) rather than as an errno.
 */
import { decodeRaw } from './rawtext.js'
import type { ElfSymbol, ModuleInfo } from './types.js'

const ENOENT = 2
const ENOEXEC = 8
const EINVAL = 22

/** The line glibc's assert() prints before abort(), and where in libkmod-elf.c it fires. */
export class KmodAbort {
  constructor(
    /** e.g. `../libkmod/libkmod-elf.c:213: elf_get_section_header: Assertion `idx != SHN_UNDEF' failed.` */
    readonly assertion: string,
  ) {}
  /** What stderr shows: `<program>: <assertion>`. */
  message(program: string): string {
    return `${program}: ${this.assertion}\n`
  }
}

const SRC = '../libkmod/libkmod-elf.c'
const assertMem = () => new KmodAbort(`${SRC}:202: elf_get_mem: Assertion \`offset < elf->size' failed.`)

/** One kmod_modversion: a symbol with its CRC and bind, as kmod_elf_get_*symbols return them. */
export interface KmodSymbol {
  symbol: string
  crc: number
  /** 'U' undefined, 'W' weak, 'G' global, 'L' local, '\0' none (libkmod's KMOD_SYMBOL_*). */
  bind: string
}

/** Values above 2^53 stand for "larger than any file": every bounds check they meet fails. */
const HUGE = Number.MAX_SAFE_INTEGER

/** libkmod's struct kmod_elf over a file's bytes. Build it with {@link kmodElfNew}. */
export class KmodElf {
  readonly is32: boolean
  readonly msb: boolean
  readonly shoff: number
  readonly shnum: number
  readonly shentsize: number
  readonly machine: number
  /** Offset and size of the section name table (validated by kmodElfNew). */
  readonly strOff: number
  readonly strSize: number

  /** @internal use {@link kmodElfNew}. */
  constructor(
    readonly bytes: Uint8Array,
    cls: number,
    h: { shoff: number; shnum: number; shentsize: number; shstrndx: number; machine: number },
  ) {
    this.is32 = (cls & 1) !== 0
    this.msb = (cls & 2) !== 0
    this.shoff = h.shoff
    this.shnum = h.shnum
    this.shentsize = h.shentsize
    this.machine = h.machine
    this.strOff = 0
    this.strSize = 0
  }

  /** elf_get_uint(): callers keep offset + size within the file (libkmod asserts it). */
  uint(offset: number, size: number): number {
    const b = this.bytes
    let v = 0
    if (size === 8) {
      const hi = this.uint(offset + (this.msb ? 0 : 4), 4)
      const lo = this.uint(offset + (this.msb ? 4 : 0), 4)
      return hi >= 0x200000 ? HUGE + 1 : hi * 0x100000000 + lo
    }
    if (this.msb) for (let i = 0; i < size; i++) v = v * 256 + b[offset + i]!
    else for (let i = size - 1; i >= 0; i--) v = v * 256 + b[offset + i]!
    return v
  }

  /** elf_get_section_info(): offset, size and name offset of section `idx`, or -EINVAL when out of the file. */
  sectionInfo(idx: number): { offset: number; size: number; nameoff: number } | number | KmodAbort {
    if (idx === 0) return new KmodAbort(`${SRC}:213: elf_get_section_header: Assertion \`idx != SHN_UNDEF' failed.`)
    if (idx >= this.shnum) return new KmodAbort(`${SRC}:214: elf_get_section_header: Assertion \`idx < elf->header.section.count' failed.`)
    const p = this.shoff + idx * this.shentsize
    const size = this.is32 ? this.uint(p + 20, 4) : this.uint(p + 32, 8)
    const offset = this.is32 ? this.uint(p + 16, 4) : this.uint(p + 24, 8)
    const nameoff = this.uint(p, 4)
    if (offset > HUGE || size > HUGE || offset + size > this.bytes.length) return -EINVAL
    return { offset, size, nameoff }
  }

  /** kmod_elf_get_section(): the first section (from 1) whose name is `name`; -ENOENT when none. */
  section(name: string): { offset: number; size: number } | number | KmodAbort {
    for (let i = 1; i < this.shnum; i++) {
      const s = this.sectionInfo(i)
      if (typeof s === 'number' || s instanceof KmodAbort) continue
      if (s.nameoff >= this.strSize || !this.nameIs(this.strOff + s.nameoff, name)) continue
      if (s.offset >= this.bytes.length) return assertMem()
      return { offset: s.offset, size: s.size }
    }
    return -ENOENT
  }

  private nameIs(at: number, name: string): boolean {
    const b = this.bytes
    for (let k = 0; k < name.length; k++) if (b[at + k] !== name.charCodeAt(k)) return false
    return b[at + name.length] === 0
  }

  /** kmod_elf_get_strings(): the NUL-separated strings of a section, leading zero padding skipped. */
  strings(name: string): string[] | number | KmodAbort {
    const sec = this.section(name)
    if (typeof sec === 'number' || sec instanceof KmodAbort) return sec
    let start = sec.offset
    let size = sec.size
    const b = this.bytes
    if (size === 0) return []
    while (b[start] === 0 && size > 1) {
      start++
      size--
    }
    // libkmod returns nothing for one byte left after the padding, whatever it is.
    if (size <= 1) return []
    const out: string[] = []
    let i = 0
    while (i < size) {
      let e = i
      while (e < size && b[start + e] !== 0) e++
      out.push(decodeRaw(b, start + i, start + e))
      while (e < size && b[start + e] === 0) e++
      i = e
    }
    return out
  }

  /** The symbol table as kmod finds it: `.strtab` and `.symtab` by name; undefined when it falls back. */
  private symtab(): { str: { offset: number; size: number }; sym: { offset: number; size: number }; symlen: number } | number | KmodAbort {
    const str = this.section('.strtab')
    if (typeof str === 'number' || str instanceof KmodAbort) return str
    const sym = this.section('.symtab')
    if (typeof sym === 'number' || sym instanceof KmodAbort) return sym
    const symlen = this.is32 ? 16 : 24
    if (sym.size % symlen !== 0) return -EINVAL
    return { str, sym, symlen }
  }

  /** A C string at `at` (libkmod reads it in place; past the file it would read the mapping's zero fill). */
  private cstr(at: number): string {
    const b = this.bytes
    let e = at
    while (e < b.length && b[e] !== 0) e++
    return decodeRaw(b, at, e)
  }

  private symField(o: number, field: 'name' | 'value' | 'info' | 'shndx'): number {
    if (this.is32)
      return field === 'name' ? this.uint(o, 4) : field === 'value' ? this.uint(o + 4, 4) : field === 'info' ? this.uint(o + 12, 1) : this.uint(o + 14, 2)
    return field === 'name' ? this.uint(o, 4) : field === 'value' ? this.uint(o + 8, 8) : field === 'info' ? this.uint(o + 4, 1) : this.uint(o + 6, 2)
  }

  /**
   * kmod_elf_get_symbols(): the `__crc_` symbols (depmod's exports), else the strings of
   * `__ksymtab_strings`; -ENOENT when the module has neither.
   */
  symbols(): KmodSymbol[] | number | KmodAbort {
    const t = this.symtab()
    if (t instanceof KmodAbort) return t
    if (typeof t !== 'number') {
      const n = t.sym.size / t.symlen
      const out: KmodSymbol[] = []
      let fallback = false
      for (let i = 1; i < n; i++) {
        const name = this.symField(t.sym.offset + i * t.symlen, 'name')
        if (name >= t.str.size) {
          fallback = true
          break
        }
        if (!this.startsWith(t.str.offset + name, '__crc_')) continue
        const o = t.sym.offset + i * t.symlen
        const bind = this.symField(o, 'info') >> 4
        const crc = this.resolveCrc(this.symField(o, 'value'), this.symField(o, 'shndx'))
        if (crc instanceof KmodAbort) return crc
        out.push({ symbol: this.cstr(t.str.offset + name + 6), crc, bind: bind === 0 ? 'L' : bind === 1 ? 'G' : bind === 2 ? 'W' : '\0' })
      }
      if (!fallback && out.length > 0) return out
    }
    return this.ksymtabStrings()
  }

  private startsWith(at: number, prefix: string): boolean {
    const b = this.bytes
    for (let k = 0; k < prefix.length; k++) if (b[at + k] !== prefix.charCodeAt(k)) return false
    return true
  }

  private resolveCrc(crc: number, shndx: number): number | KmodAbort {
    if (shndx === 0xfff1 || shndx === 0) return crc
    const s = this.sectionInfo(shndx)
    if (s instanceof KmodAbort) return s
    if (typeof s === 'number') return -1
    // (size - 4) wraps below zero in uint64 for a section smaller than 4 bytes: then any crc passes.
    if (s.size >= 4 && crc > s.size - 4) return -1
    if (s.offset + crc + 4 > this.bytes.length) return new KmodAbort(`${SRC}:137: elf_get_uint: Assertion \`offset + size <= elf->size' failed.`)
    return this.uint(s.offset + crc, 4)
  }

  private ksymtabStrings(): KmodSymbol[] | number | KmodAbort {
    const list = this.strings('__ksymtab_strings')
    if (typeof list === 'number' || list instanceof KmodAbort) return list
    return list.map((symbol) => ({ symbol, crc: 0, bind: 'G' }))
  }

  /**
   * kmod_elf_get_dependency_symbols(): the undefined symbols (with their `__versions` CRC), then the
   * `__versions` entries no symbol named; -EINVAL without `.strtab`/`.symtab` or with a name past `.strtab`.
   */
  dependencySymbols(): KmodSymbol[] | number | KmodAbort {
    let versions = this.section('__versions')
    if (versions instanceof KmodAbort) return versions
    if (typeof versions !== 'number' && versions.size % 64 !== 0) versions = -EINVAL
    const t = this.symtab()
    if (t instanceof KmodAbort) return t
    if (typeof t === 'number') return -EINVAL
    const vers = typeof versions === 'number' ? undefined : versions
    const crclen = this.is32 ? 4 : 8
    const vcount = vers ? vers.size / 64 : 0
    const visited = new Uint8Array(vcount)
    const vname = (k: number) => this.cstr(vers!.offset + k * 64 + crclen)
    // kmod_elf_crc_find() takes the first entry with the name.
    const first = new Map<string, number>()
    for (let k = vcount - 1; k >= 0; k--) first.set(vname(k), k)
    const out: KmodSymbol[] = []
    const n = t.sym.size / t.symlen
    for (let i = 1; i < n; i++) {
      const o = t.sym.offset + i * t.symlen
      if (this.symField(o, 'shndx') !== 0) continue
      const nameOff = this.symField(o, 'name')
      if (nameOff >= t.str.size) return -EINVAL
      const name = this.cstr(t.str.offset + nameOff)
      if (name === '') continue
      let crc = 0
      const k = first.get(name)
      if (k !== undefined) {
        crc = this.uint(vers!.offset + k * 64, crclen)
        visited[k] = 1
      }
      out.push({ symbol: name, crc, bind: this.symField(o, 'info') >> 4 === 2 ? 'W' : 'U' })
    }
    for (let k = 0; k < vcount; k++) if (!visited[k]) out.push({ symbol: vname(k), crc: this.uint(vers!.offset + k * 64, crclen), bind: 'U' })
    return out
  }
}

/**
 * kmod_file_open() + kmod_elf_new() of libkmod (kmod 30) on an uncompressed file's bytes:
 * the parsed file, a negative errno (-ENOEXEC not ELF, -EINVAL malformed or shorter than kmod
 * reads), or the assertion failure it aborts on.
 *
 * @example const elf = kmodElfNew(bytes); if (elf instanceof KmodElf) elf.strings('.modinfo')
 */
export function kmodElfNew(bytes: Uint8Array): KmodElf | number | KmodAbort {
  // kmod_file_open() reads the longest compression magic (6 bytes, xz) first.
  if (bytes.length < 6) return -EINVAL
  if (bytes.length <= 16 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) return -ENOEXEC
  const clsByte = bytes[4]
  if (clsByte !== 1 && clsByte !== 2) return -EINVAL
  if (bytes.length <= (clsByte === 1 ? 52 : 64)) return -EINVAL
  const data = bytes[5]
  if (data !== 1 && data !== 2) return -EINVAL
  const cls = (clsByte === 1 ? 1 : 0) | (data === 2 ? 2 : 0)
  const probe = new KmodElf(bytes, cls, { shoff: 0, shnum: 0, shentsize: 0, shstrndx: 0, machine: 0 })
  const is32 = clsByte === 1
  const h = {
    shoff: is32 ? probe.uint(32, 4) : probe.uint(40, 8),
    shentsize: probe.uint(is32 ? 46 : 58, 2),
    shnum: probe.uint(is32 ? 48 : 60, 2),
    shstrndx: probe.uint(is32 ? 50 : 62, 2),
    machine: probe.uint(18, 2),
  }
  if (h.shentsize !== (is32 ? 40 : 64)) return -EINVAL
  if (h.shoff > HUGE || h.shoff + h.shentsize * h.shnum > bytes.length) return -EINVAL
  const elf = new KmodElf(bytes, cls, h)
  const s = elf.sectionInfo(h.shstrndx)
  if (s instanceof KmodAbort) return s
  if (typeof s === 'number') return -EINVAL
  if (s.offset >= bytes.length) return assertMem()
  if (s.size === 0 || bytes[s.offset + s.size - 1] !== 0) return -EINVAL
  Object.assign(elf, { strOff: s.offset, strSize: s.size })
  return elf
}

/**
 * What depmod_load_modules() gets from one uncompressed module file through libkmod: `err`, the
 * errno of kmod_module_get_symbols() (0 when it read them; -ENOENT, a module without any, depmod
 * ignores silently), and the facts it keeps, shaped as {@link ModuleInfo}: `.modinfo`, the exports
 * of kmod_elf_get_symbols() and, as undefined symbols, what kmod_elf_get_dependency_symbols() lists
 * (nothing when that fails, as depmod then silently has none). Or the libkmod assertion that aborts
 * depmod on the way.
 * @example kmodDepmodLoad(bytes) // { err: 0, info: { exports: [{ name: 'api_test', gpl: false }], ... } }
 */
export function kmodDepmodLoad(bytes: Uint8Array): { err: number; info?: ModuleInfo } | KmodAbort {
  const elf = kmodElfNew(bytes)
  if (elf instanceof KmodAbort) return elf
  if (!(elf instanceof KmodElf)) return { err: elf }
  const strings = elf.strings('.modinfo')
  if (strings instanceof KmodAbort) return strings
  const syms = elf.symbols()
  if (syms instanceof KmodAbort) return syms
  const deps = elf.dependencySymbols()
  if (deps instanceof KmodAbort) return deps
  const modinfo = (Array.isArray(strings) ? strings : []).map((s) => {
    const eq = s.indexOf('=')
    return eq < 0 ? { key: s, value: '' } : { key: s.slice(0, eq), value: s.slice(eq + 1) }
  })
  const undef = Array.isArray(deps) ? deps : []
  const symbols: ElfSymbol[] = undef.map((d) => ({ name: d.symbol, value: 0n, size: 0, bind: d.bind === 'W' ? 2 : 1, type: 0, shndx: 0 }))
  const info: ModuleInfo = {
    name: '',
    modinfo,
    exports: (Array.isArray(syms) ? syms : []).map((s) => ({ name: s.symbol, gpl: false })),
    imports: undef.map((d) => d.symbol),
    versions: [],
    hasInit: false,
    hasExit: false,
    sections: [],
    symbols,
  }
  return { err: typeof syms === 'number' ? syms : 0, info }
}
