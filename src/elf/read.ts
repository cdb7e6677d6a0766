import { Buffer } from 'node:buffer'
import { ElfError, type ElfSection, type ElfSymbol } from './types.js'

/** ELF constants the reader and writer share. */
export const SHT_NULL = 0
export const SHT_PROGBITS = 1
export const SHT_SYMTAB = 2
export const SHT_STRTAB = 3
export const SHT_RELA = 4
export const SHT_NOBITS = 8
export const SHN_UNDEF = 0
export const SHN_LORESERVE = 0xff00
export const SHN_LIVEPATCH = 0xff20
export const SHN_ABS = 0xfff1
export const SHN_COMMON = 0xfff2
export const STB_LOCAL = 0
export const STB_GLOBAL = 1
export const STB_WEAK = 2
/** ELF64_ST_BIND(): a symbol's binding (STB_*) from its st_info. @example stBind(0x12) // STB_GLOBAL */
export const stBind = (info: number): number => info >> 4
/** ELF64_ST_TYPE(): a symbol's type (STT_*) from its st_info. @example stType(0x12) // STT_FUNC */
export const stType = (info: number): number => info & 0xf
export const STT_NOTYPE = 0
export const STT_OBJECT = 1
export const STT_FUNC = 2
export const STT_SECTION = 3
export const STT_FILE = 4
export const SHF_WRITE = 0x1n
export const SHF_ALLOC = 0x2n
export const SHF_EXECINSTR = 0x4n
export const EM_X86_64 = 62
export const ET_REL = 1
export const R_X86_64_64 = 1
export const R_X86_64_PC32 = 2
export const R_X86_64_PLT32 = 4
export const R_X86_64_32 = 10
export const R_X86_64_32S = 11

/** What a 64-bit field of 2^53 or more reads as: larger than any file, still an exact integer. */
export const TOO_BIG = 2 ** 53

const EHDR_SIZE = 64
const SHDR_SIZE = 64
const SYM_SIZE = 24
const RELA_SIZE = 24

/** One relocation of a RELA section (`Elf64_Rela`). */
export interface ElfRela {
  /** Offset in the section the relocation applies to. */
  offset: number
  type: number
  /** Index into the symbol table. */
  sym: number
  addend: number
}

/** A parsed ELF64 LE x86-64 relocatable object; sections eager, the rest on demand. */
export interface ElfFile {
  readonly bytes: Uint8Array
  readonly sections: ElfSection[]
  /** The `SHT_SYMTAB` section, if any. */
  readonly symtab: ElfSection | undefined
  sectionByName(name: string): ElfSection | undefined
  /** Bytes of a section (a view, not a copy); empty for SHT_NOBITS. */
  sectionData(section: ElfSection): Uint8Array
  /** Number of entries in the symbol table (0 without one). */
  symbolCount(): number
  /** Raw fields of symbol `i` without decoding its name (for fast scans). */
  symbolRaw(i: number): { nameOff: number; value: bigint; size: number; info: number; shndx: number }
  /** st_shndx of symbol `i` (no allocation, for scans over thousands of symbols). */
  symbolShndx(i: number): number
  /** st_info of symbol `i`. */
  symbolInfo(i: number): number
  /** st_name of symbol `i` (0 for no name). */
  symbolNameOff(i: number): number
  /** st_value of symbol `i` as a number (offsets in ET_REL fit). */
  symbolValue(i: number): number
  /** Name of symbol `i` (decoded from the symbol string table). */
  symbolName(i: number): string
  /** Compare the name of symbol `i` with an ASCII prefix without decoding it. */
  symbolNameStartsWith(i: number, prefix: string): boolean
  /** Every symbol, decoded (cached). */
  symbols(): ElfSymbol[]
  /** Relocations that apply to `target`, from every SHT_RELA section whose sh_info names it. */
  relocationsFor(target: ElfSection): ElfRela[]
  /** NUL-terminated string at `offset` inside `section` (ends at the section end if no NUL). */
  stringAt(section: ElfSection, offset: number): string
}

/** Byte reader that throws ElfError instead of RangeError. */
class Reader {
  readonly view: DataView
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
  check(off: number, len: number, what: string): void {
    if (off < 0 || len < 0 || off + len > this.bytes.length) {
      throw new ElfError(
        `truncated ELF file: ${what} (bytes ${off}..${off + len}) lies beyond the end of the file (${this.bytes.length} bytes); the file is incomplete, rebuild or re-copy it`,
        'truncated',
      )
    }
  }
  u8(o: number): number {
    return this.view.getUint8(o)
  }
  u16(o: number): number {
    return this.view.getUint16(o, true)
  }
  u32(o: number): number {
    return this.view.getUint32(o, true)
  }
  u64(o: number): bigint {
    return this.view.getBigUint64(o, true)
  }
  /**
   * A 64-bit offset/size field as a number. Values from 2^53 up all read as 2^53 ({@link TOO_BIG}): every
   * bounds check still fails on them, and no Infinity or NaN reaches arithmetic or BigInt().
   */
  u64n(o: number): number {
    const hi = this.view.getUint32(o + 4, true)
    const lo = this.view.getUint32(o, true)
    return hi === 0 ? lo : hi < 0x200000 ? hi * 0x100000000 + lo : TOO_BIG
  }
}

/** How strict {@link readElf} is. */
export interface ReadElfOptions {
  /**
   * Read the file as the kernel's loader does once elf_validity_check() passed: e_ident's class
   * and byte order, sh_entsize, the name table's type, a second symbol table, names past their
   * table and relocations that name no symbol are not refused (the kernel never looks at them,
   * or reads whatever bytes lie there). Names are read from the image as the kernel would.
   */
  kernel?: boolean
}

/**
 * Parse an ELF64 little-endian x86-64 relocatable object (a `.ko`).
 *
 * @throws ElfError `not-elf`, `truncated`, `unsupported` or `malformed`, with a message that says what is wrong
 *   (and nothing else: every size, offset, index and entry size is checked before use).
 * @example const elf = readElf(await readFile('hello.ko')); elf.sectionByName('.modinfo')
 */
export function readElf(bytes: Uint8Array, options: ReadElfOptions = {}): ElfFile {
  const asKernel = options.kernel === true
  if (bytes.length === 0) throw new ElfError('not an ELF file: the file is empty', 'not-elf')
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    const packed = compression(bytes)
    if (packed)
      throw new ElfError(
        `not an ELF file: it is ${packed}-compressed (a .ko.${packed === 'gzip' ? 'gz' : packed === 'zstd' ? 'zst' : 'xz'}?); decompress it first`,
        'not-elf',
      )
    throw new ElfError('not an ELF file: it does not start with the ELF magic \\x7fELF (is it a kernel module .ko?)', 'not-elf')
  }
  const r = new Reader(bytes)
  r.check(0, EHDR_SIZE, 'the ELF header')
  const cls = r.u8(4)
  const data = r.u8(5)
  if (cls !== 2 && !asKernel) {
    throw new ElfError(
      `unsupported ELF file: ${cls === 1 ? 'ELFCLASS32 (32-bit)' : `ELF class ${cls}`}; only 64-bit x86-64 modules are supported`,
      'unsupported',
    )
  }
  if (data !== 1 && !asKernel) {
    throw new ElfError(
      `unsupported ELF file: ${data === 2 ? 'big-endian' : `data encoding ${data}`}; only little-endian x86-64 modules are supported`,
      'unsupported',
    )
  }
  const type = r.u16(16)
  const machine = r.u16(18)
  if (machine !== EM_X86_64) {
    throw new ElfError(`unsupported ELF file: machine ${machine} is not x86-64 (62); build the module for x86_64`, 'unsupported')
  }
  if (type !== ET_REL) {
    const kind = type === 2 ? 'an executable (ET_EXEC)' : type === 3 ? 'a shared object or PIE (ET_DYN)' : type === 4 ? 'a core file' : `ELF type ${type}`
    throw new ElfError(`unsupported ELF file: it is ${kind}, not a relocatable object (ET_REL) as kernel modules are`, 'unsupported')
  }
  const shoff = r.u64n(40)
  const shentsize = r.u16(58)
  const shnum = r.u16(60)
  const shstrndx = r.u16(62)
  if (shnum === 0) throw new ElfError('malformed ELF file: it has no section headers', 'malformed')
  if (shentsize !== SHDR_SIZE) {
    throw new ElfError(`malformed ELF file: section header size is ${shentsize}, expected ${SHDR_SIZE}`, 'malformed')
  }
  r.check(shoff, shnum * SHDR_SIZE, `the section header table (${shnum} entries)`)
  if (shstrndx === 0 || shstrndx >= shnum) {
    throw new ElfError(`malformed ELF file: section name table index ${shstrndx} is out of range (${shnum} sections)`, 'malformed')
  }

  const sections: ElfSection[] = new Array(shnum)
  const nameOffs: number[] = new Array(shnum)
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * SHDR_SIZE
    const s: ElfSection = {
      index: i,
      name: '',
      type: r.u32(o + 4),
      flags: r.u64(o + 8),
      addr: r.u64(o + 16),
      offset: r.u64n(o + 24),
      size: r.u64n(o + 32),
      link: r.u32(o + 40),
      info: r.u32(o + 44),
      addralign: r.u64n(o + 48),
      entsize: r.u64n(o + 56),
    }
    nameOffs[i] = r.u32(o)
    if (s.type !== SHT_NOBITS && s.type !== SHT_NULL) r.check(s.offset, s.size, `section ${i}`)
    sections[i] = s
  }
  // 0 < shstrndx < shnum was checked above.
  const shstr = sections[shstrndx]!
  if (shstr.type !== SHT_STRTAB && !asKernel) {
    throw new ElfError(`malformed ELF file: section name table (section ${shstrndx}) is not a string table`, 'malformed')
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const cstr = (start: number, end: number): string => {
    let e = start
    while (e < end && bytes[e] !== 0) e++
    return buf.toString('utf8', start, e)
  }
  for (const [i, sec] of sections.entries()) {
    const nameOff = nameOffs[i]!
    if (nameOff >= shstr.size && !(i === 0 && nameOff === 0) && !asKernel) {
      throw new ElfError(`malformed ELF file: name of section ${i} lies outside the section name table`, 'malformed')
    }
    sec.name = nameOff < shstr.size ? cstr(shstr.offset + nameOff, shstr.offset + shstr.size) : ''
  }

  let symtab: ElfSection | undefined
  let strtab: ElfSection | undefined
  let nsyms = 0
  for (const s of sections) {
    if (s.type !== SHT_SYMTAB) continue
    if (symtab && asKernel) break // setup_load_info() takes the first
    if (symtab) throw new ElfError('malformed ELF file: it has more than one symbol table', 'malformed')
    if (asKernel) {
      // The kernel uses sizeof(Elf64_Sym) whatever sh_entsize says, and any section sh_link names.
      if (s.link === 0 || s.link >= shnum) throw new ElfError(`malformed ELF file: symbol table links to section ${s.link}`, 'malformed')
      symtab = s
      strtab = sections[s.link]
      nsyms = Math.floor(s.size / SYM_SIZE)
      continue
    }
    if (s.entsize !== SYM_SIZE || s.size % SYM_SIZE !== 0) {
      throw new ElfError(`malformed ELF file: symbol table entry size ${s.entsize} / size ${s.size} do not fit Elf64_Sym (${SYM_SIZE} bytes)`, 'malformed')
    }
    if (s.link === 0 || sections[s.link]?.type !== SHT_STRTAB) {
      throw new ElfError(`malformed ELF file: symbol table links to section ${s.link}, which is not a string table`, 'malformed')
    }
    symtab = s
    strtab = sections[s.link]
    nsyms = s.size / SYM_SIZE
  }

  const byName = new Map<string, ElfSection>()
  for (const s of sections) if (!byName.has(s.name)) byName.set(s.name, s)

  const symOff = (i: number): number => {
    if (!symtab || i < 0 || i >= nsyms) throw new ElfError(`malformed ELF file: symbol index ${i} is out of range (${nsyms} symbols)`, 'malformed')
    return symtab.offset + i * SYM_SIZE
  }
  const symbolName = (i: number): string => {
    const n = r.u32(symOff(i))
    if (n === 0) return ''
    if (asKernel) {
      // info->strtab + st_name: whatever the image holds there (past the image: nothing the simulator can know).
      const at = strtab!.offset + n
      return at < bytes.length ? cstr(at, bytes.length) : ''
    }
    if (n >= strtab!.size) throw new ElfError(`malformed ELF file: name of symbol ${i} lies outside the string table`, 'malformed')
    return cstr(strtab!.offset + n, strtab!.offset + strtab!.size)
  }
  let symCache: ElfSymbol[] | undefined
  let relaIndex: Map<number, ElfSection[]> | undefined

  const file: ElfFile = {
    bytes,
    sections,
    symtab,
    sectionByName: (name) => byName.get(name),
    sectionData: (s) => (s.type === SHT_NOBITS || s.type === SHT_NULL ? bytes.subarray(0, 0) : bytes.subarray(s.offset, s.offset + s.size)),
    symbolCount: () => nsyms,
    symbolRaw(i) {
      const o = symOff(i)
      return { nameOff: r.u32(o), info: r.u8(o + 4), shndx: r.u16(o + 6), value: r.u64(o + 8), size: r.u64n(o + 16) }
    },
    symbolShndx: (i) => r.u16(symOff(i) + 6),
    symbolInfo: (i) => r.u8(symOff(i) + 4),
    symbolNameOff: (i) => r.u32(symOff(i)),
    symbolValue: (i) => r.u64n(symOff(i) + 8),
    symbolName,
    symbolNameStartsWith(i, prefix) {
      const n = r.u32(symOff(i))
      if (n === 0 || n + prefix.length > strtab!.size) return false
      const base = strtab!.offset + n
      for (let k = 0; k < prefix.length; k++) if (bytes[base + k] !== prefix.charCodeAt(k)) return false
      return true
    },
    symbols() {
      if (symCache) return symCache
      const out: ElfSymbol[] = new Array(nsyms)
      for (let i = 0; i < nsyms; i++) {
        const o = symOff(i)
        const info = r.u8(o + 4)
        out[i] = { name: symbolName(i), value: r.u64(o + 8), size: r.u64n(o + 16), bind: stBind(info), type: stType(info), shndx: r.u16(o + 6) }
      }
      return (symCache = out)
    },
    relocationsFor(target) {
      if (!relaIndex) {
        relaIndex = new Map()
        for (const s of sections) {
          if (s.type !== SHT_RELA) continue
          const list = relaIndex.get(s.info) ?? []
          list.push(s)
          relaIndex.set(s.info, list)
        }
      }
      const out: ElfRela[] = []
      for (const s of relaIndex.get(target.index) ?? []) {
        if (asKernel) {
          // apply_relocate_add(): sizeof(Elf64_Rela) entries against the symbol table, sh_entsize and sh_link unread.
          const n = Math.floor(s.size / RELA_SIZE)
          for (let k = 0; k < n; k++) {
            const o = s.offset + k * RELA_SIZE
            const sym = r.u32(o + 12)
            if (sym >= nsyms) continue // past the symbol table: the kernel reads memory the simulator does not have
            out.push({ offset: r.u64n(o), type: r.u32(o + 8), sym, addend: Number(BigInt.asIntN(64, r.u64(o + 16))) })
          }
          continue
        }
        if (s.entsize !== RELA_SIZE || s.size % RELA_SIZE !== 0) {
          throw new ElfError(`malformed ELF file: relocation section ${s.name} has entry size ${s.entsize}, expected ${RELA_SIZE}`, 'malformed')
        }
        if (s.link !== symtab?.index) {
          throw new ElfError(`malformed ELF file: relocation section ${s.name} does not refer to the symbol table`, 'malformed')
        }
        const n = s.size / RELA_SIZE
        for (let k = 0; k < n; k++) {
          const o = s.offset + k * RELA_SIZE
          const sym = r.u32(o + 12)
          if (sym >= nsyms) throw new ElfError(`malformed ELF file: relocation ${k} of ${s.name} names symbol ${sym}, beyond the ${nsyms} symbols`, 'malformed')
          out.push({ offset: r.u64n(o), type: r.u32(o + 8), sym, addend: Number(BigInt.asIntN(64, r.u64(o + 16))) })
        }
      }
      return out
    },
    stringAt(s, offset) {
      if (s.type === SHT_NOBITS || offset < 0 || offset >= s.size) {
        throw new ElfError(`malformed ELF file: string offset ${offset} lies outside section ${s.name}`, 'malformed')
      }
      return cstr(s.offset + offset, s.offset + s.size)
    },
  }
  return file
}

/** The compression format of a compressed module, by its magic. */
function compression(b: Uint8Array): string | undefined {
  if (b.length >= 6 && b[0] === 0xfd && b[1] === 0x37 && b[2] === 0x7a && b[3] === 0x58 && b[4] === 0x5a && b[5] === 0) return 'xz'
  if (b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd'
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip'
  return undefined
}
