/**
 * What depmod needs from one module file, read the way kmod 30's depmod_load_modules() reads it through
 * libkmod (see elf/kmod.ts's kmodDepmodLoad), but with positioned reads of only the sections it looks at
 * (header, section headers, .modinfo, .symtab, .strtab, __versions, __ksymtab_strings), never the whole
 * file. Any file that is not a plain little-endian ELF64 module, or where libkmod would take an unusual
 * path (a bound it checks, an assertion), is read whole and handed to kmodDepmodLoad, so the two agree.
 */
import * as fs from 'node:fs'
import { KmodAbort, kmodDepmodLoad } from '../../elf/kmod.js'
import { decodeRaw } from '../../elf/rawtext.js'
import type { ToolContext } from './context.js'
import { kmodFileOpen } from './decompress.js'

/** The per-module facts depmod keeps (and the facts cache stores). */
export interface DepmodFacts {
  /** kmod_module_get_symbols()'s result: 0, or a negative errno (-ENOENT: no exports, which depmod ignores). */
  err: number
  /** Values of the `alias=` entries of .modinfo, in order. */
  aliases: string[]
  /** Values of the `softdep=` entries of .modinfo, in order. */
  softdeps: string[]
  /** Exported symbols (kmod_elf_get_symbols), in symbol-table order. */
  exports: string[]
  /** Undefined symbols (kmod_elf_get_dependency_symbols), in libkmod's order. */
  needs: string[]
  /** Indexes into `needs` of the weak ones. */
  weak: number[]
}

const ENOENT = 2
const SHN_ABS = 0xfff1
const ELF64_SHDR = 64
const ELF64_SYM = 24
const VERSION_ENTRY = 64

/** Marker: this file takes libkmod's unusual path, so read it whole. */
const SLOW = undefined

/** A 64-bit little-endian field as a number; values past 2^53 become Infinity (beyond any file). */
function u64(b: Buffer, at: number): number {
  const hi = b.readUInt32LE(at + 4)
  return hi >= 0x200000 ? Infinity : hi * 0x100000000 + b.readUInt32LE(at)
}

/**
 * One reusable buffer per part of a module readFactsFast reads: every part is decoded into strings before
 * the next module, so 4,000 modules do not leave ~200 MB of short-lived buffers for the GC (peak memory).
 */
const scratch: Buffer[] = []
const HEADER = 0
const SHDRS = 1
const SHSTRTAB = 2
const MODINFO = 3
const STRTAB = 4
const SYMTAB = 5
const VERSIONS = 6
const KSYMTAB_STRINGS = 7

/** `len` bytes of `fd` at `pos` (fewer only past the end of the file), in part `role`'s reused buffer: valid until the next read of that part. */
function readAt(fd: number, pos: number, len: number, role: number): Buffer {
  let own = scratch[role]
  if (own === undefined || own.length < len) scratch[role] = own = Buffer.allocUnsafe(Math.max(len, 4096))
  const b = own.subarray(0, len)
  let got = 0
  while (got < len) {
    const n = fs.readSync(fd, b, got, len - got, pos + got)
    if (n === 0) break
    got += n
  }
  return got === len ? b : b.subarray(0, got)
}

/** kmod_elf_get_strings(): NUL-separated strings, leading zero padding skipped, one byte left gives none. */
function strings(b: Buffer): string[] {
  let start = 0
  let size = b.length
  if (size === 0) return []
  while (b[start] === 0 && size > 1) {
    start++
    size--
  }
  if (size <= 1) return []
  const out: string[] = []
  let i = start
  const end = start + size
  while (i < end) {
    let e = b.indexOf(0, i)
    if (e < 0 || e > end) e = end
    out.push(decodeRaw(b, i, e))
    while (e < end && b[e] === 0) e++
    i = e
  }
  return out
}

/** A C string at `at` that the caller knows ends with a NUL inside `b`. */
const cstr = (b: Buffer, at: number) => decodeRaw(b, at, b.indexOf(0, at))

/**
 * The facts of a plain ELF64 little-endian module through positioned reads of `fd` (`size` bytes long),
 * or undefined when libkmod would take an unusual path on this file (then read it whole, see {@link factsFromBytes}).
 * @example const facts = readFactsFast(fd, fstatSync(fd).size)
 */
export function readFactsFast(fd: number, size: number): DepmodFacts | undefined {
  if (size <= 64) return SLOW
  const h = readAt(fd, 0, 64, HEADER)
  if (h.length < 64 || h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) return SLOW
  const shoff = u64(h, 40)
  const shentsize = h.readUInt16LE(58)
  const shnum = h.readUInt16LE(60)
  const shstrndx = h.readUInt16LE(62)
  if (shentsize !== ELF64_SHDR || shoff + shnum * ELF64_SHDR > size || shstrndx === 0 || shstrndx >= shnum) return SLOW
  const sh = readAt(fd, shoff, shnum * ELF64_SHDR, SHDRS)
  const offs = new Array<number>(shnum)
  const sizes = new Array<number>(shnum)
  // libkmod's elf_get_section_info fails for a section reaching past the file (a large .bss): lookups skip it
  const inFile = new Uint8Array(shnum)
  for (let i = 1; i < shnum; i++) {
    const p = i * ELF64_SHDR
    offs[i] = u64(sh, p + 24)
    sizes[i] = u64(sh, p + 32)
    inFile[i] = offs[i]! + sizes[i]! <= size ? 1 : 0
  }
  if (!inFile[shstrndx] || offs[shstrndx]! >= size || sizes[shstrndx] === 0) return SLOW
  const names = readAt(fd, offs[shstrndx]!, sizes[shstrndx]!, SHSTRTAB)
  if (names[names.length - 1] !== 0) return SLOW
  // kmod_elf_get_section(): the first section (from 1) with the name
  const found = new Map<string, number>()
  for (let i = 1; i < shnum; i++) {
    const at = sh.readUInt32LE(i * ELF64_SHDR)
    if (!inFile[i] || at >= names.length) continue
    const name = names.toString('latin1', at, names.indexOf(0, at))
    if (!found.has(name)) found.set(name, i)
  }
  const section = (name: string, role: number): Buffer | undefined | null => {
    const i = found.get(name)
    if (i === undefined) return undefined
    if (offs[i]! >= size) return null
    return readAt(fd, offs[i]!, sizes[i]!, role)
  }
  const modinfo = section('.modinfo', MODINFO)
  const strtab = section('.strtab', STRTAB)
  const symtab = strtab === undefined ? undefined : section('.symtab', SYMTAB)
  const versions = section('__versions', VERSIONS)
  if (modinfo === null || strtab === null || symtab === null || versions === null) return SLOW

  const aliases: string[] = []
  const softdeps: string[] = []
  for (const s of modinfo ? strings(modinfo) : []) {
    if (s.startsWith('alias=')) aliases.push(s.slice(6))
    else if (s.startsWith('softdep=')) softdeps.push(s.slice(8))
  }

  const exports: string[] = []
  const needs: string[] = []
  const weak: number[] = []
  if (strtab && symtab) {
    if (symtab.length % ELF64_SYM !== 0 || (strtab.length > 0 && strtab[strtab.length - 1] !== 0)) return SLOW
    // __versions: the first entry of each name gives its CRC; entries no symbol names follow the symbols
    let visited: Uint8Array | undefined
    const first = new Map<string, number>()
    const vnames: string[] = []
    if (versions) {
      if (versions.length % VERSION_ENTRY !== 0) return SLOW
      const count = versions.length / VERSION_ENTRY
      visited = new Uint8Array(count)
      for (let k = 0; k < count; k++) {
        const at = k * VERSION_ENTRY + 8
        const end = versions.indexOf(0, at)
        if (end < 0 || end >= (k + 1) * VERSION_ENTRY) return SLOW
        vnames.push(decodeRaw(versions, at, end))
      }
      for (let k = count - 1; k >= 0; k--) first.set(vnames[k]!, k)
    }
    const n = symtab.length / ELF64_SYM
    for (let i = 1; i < n; i++) {
      const o = i * ELF64_SYM
      const nameOff = symtab.readUInt32LE(o)
      if (nameOff >= strtab.length) return SLOW
      const shndx = symtab.readUInt16LE(o + 6)
      const bind = symtab[o + 4]! >> 4
      // "__crc_": an exported symbol; libkmod reads its CRC, asserting it lies inside the file
      if (strtab[nameOff] === 0x5f && strtab.toString('latin1', nameOff, nameOff + 6) === '__crc_') {
        if (shndx !== 0 && shndx !== SHN_ABS) {
          if (shndx >= shnum) return SLOW
          const crc = u64(symtab, o + 8)
          // a CRC libkmod gives up on (-1) is fine; one it would read past the file asserts
          const givesUp = !inFile[shndx] || (sizes[shndx]! >= 4 && crc > sizes[shndx]! - 4)
          if (!givesUp && offs[shndx]! + crc + 4 > size) return SLOW
        }
        exports.push(cstr(strtab, nameOff + 6))
      }
      if (shndx !== 0) continue
      const name = cstr(strtab, nameOff)
      if (name === '') continue
      const k = first.get(name)
      if (k !== undefined) visited![k] = 1
      if (bind === 2) weak.push(needs.length)
      needs.push(name)
    }
    for (let k = 0; k < vnames.length; k++) if (!visited![k]) needs.push(vnames[k]!)
  }
  let err = 0
  if (exports.length === 0) {
    const ksym = section('__ksymtab_strings', KSYMTAB_STRINGS)
    if (ksym === null) return SLOW
    if (ksym === undefined) err = -ENOENT
    else exports.push(...strings(ksym))
  }
  return { err, aliases, softdeps, exports, needs, weak }
}

/**
 * The facts from a whole (decompressed) module image through libkmod's reading, or the assertion it aborts on.
 * @example factsFromBytes(readFileSync('hello_api.ko')) // { err: 0, exports: ['api_test'], ... }
 */
export function factsFromBytes(bytes: Uint8Array): DepmodFacts | KmodAbort {
  const got = kmodDepmodLoad(bytes)
  if (got instanceof KmodAbort) return got
  const info = got.info
  const aliases: string[] = []
  const softdeps: string[] = []
  for (const { key, value } of info?.modinfo ?? []) {
    if (key === 'alias') aliases.push(value)
    else if (key === 'softdep') softdeps.push(value)
  }
  const needs: string[] = []
  const weak: number[] = []
  for (const s of info?.symbols ?? []) {
    if (s.bind === 2) weak.push(needs.length)
    needs.push(s.name)
  }
  return { err: got.err, aliases, softdeps, exports: (info?.exports ?? []).map((e) => e.name), needs, weak }
}

/** A module's facts, the assertion libkmod aborts depmod on, or the negative errno of opening it. */
export type Loaded = DepmodFacts | KmodAbort | number

/** What a cached entry is checked against: the file's size and modification time (ms, nanoseconds as fractions). */
export interface Stamp {
  size: number
  mtimeMs: number
}

/** What loadFacts asks of a cache (depmod-cache.ts's FactsCache, which imports this file): facts by path for a stamp. */
export interface FactsStore {
  get(key: string, st: Stamp): DepmodFacts | undefined
  set(key: string, st: Stamp, facts: DepmodFacts): void
}

/**
 * depmod_load_modules() for one module: from the cache when its host file is unchanged, else by positioned
 * reads of a host file, else (compressed, in memory, or unusual) the whole file through libkmod's reading.
 * @example const got = loadFacts(ctx, '/lib/modules/6.1.0-56-amd64/kernel/fs/fat/fat.ko', new FactsCache('/lib/modules/6.1.0-56-amd64'))
 */
export function loadFacts(ctx: ToolContext, abs: string, cache?: FactsStore, stamp?: Stamp): Loaded {
  const host = ctx.vfs.hostPath(abs)
  if (host !== undefined) {
    const hit = stamp && cache?.get(abs, stamp)
    if (hit) return hit
    let fd: number | undefined
    try {
      fd = fs.openSync(host, 'r')
      const st = fs.fstatSync(fd)
      if (st.isFile()) {
        const hit2 = !stamp && cache?.get(abs, st)
        if (hit2) return hit2
        const fast = readFactsFast(fd, st.size)
        if (fast) {
          cache?.set(abs, st, fast)
          return fast
        }
        const got = readWhole(ctx, abs)
        if (!(got instanceof KmodAbort) && typeof got !== 'number') cache?.set(abs, st, got)
        return got
      }
    } catch {
      // cannot open or read it here: the whole-file path below gives libkmod's errno
    } finally {
      if (fd !== undefined) fs.closeSync(fd)
    }
  }
  return readWhole(ctx, abs)
}

/** The whole file (decompressed) through libkmod's reading. */
function readWhole(ctx: ToolContext, abs: string): Loaded {
  const file = kmodFileOpen(ctx, abs)
  if (!file.bytes) return file.err < 0 ? file.err : -5
  return factsFromBytes(file.bytes)
}
