/**
 * What depmod needs from one plain module file, read the way kmod 30's depmod_load_modules() reads it
 * through libkmod (see elf/kmod.ts's kmodDepmodLoad), but with positioned reads of only the parts it looks
 * at: a small file in one read, a large one as its header, its section headers (with the name table, which
 * sits just before them) and one read per run of nearby sections (.modinfo, __versions; .symtab, .strtab).
 * Any file that is not a plain little-endian ELF64 module, or where libkmod would take an unusual path
 * (a bound it checks, an assertion), gives undefined: the caller reads it whole through libkmod's reading.
 * This file imports almost nothing, so depmod's worker thread (depmod-worker.ts) starts fast.
 */
import * as fs from 'node:fs'
import { decodeRaw } from '../../elf/rawtext.js'

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

/** What a cached entry is checked against: the file's size and modification time (ms, nanoseconds as fractions). */
export interface Stamp {
  size: number
  mtimeMs: number
}

const ENOENT = 2
const SHN_ABS = 0xfff1
const ELF64_SHDR = 64
const ELF64_SYM = 24
const VERSION_ENTRY = 64
/** Files up to this size are read in one call (one syscall costs more than copying this much). */
const WHOLE = 128 * 1024
/** Sections fewer bytes apart than this are read in one call. */
const GAP = 16 * 1024
/** Bytes read before the section headers of a large file: the section name table is usually there. */
const TAIL = 4096

/** Marker: this file takes libkmod's unusual path, so read it whole. */
const SLOW = undefined

/** Buffer's own latin1 decoder (toString's encoding dispatch costs more than these short strings). */
type Latin1 = Buffer & { latin1Slice(start: number, end: number): string }

/**
 * A reusable buffer with its DataView: every part is decoded into strings before the next module, so 4,000
 * modules do not leave hundreds of MB of short-lived buffers for the GC (time and peak memory).
 */
class Scratch {
  buf: Latin1
  view: DataView
  constructor(size: number) {
    // allocUnsafeSlow: never a slice of Node's shared pool, so the DataView starts at the buffer
    this.buf = Buffer.allocUnsafeSlow(size) as Latin1
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length)
  }
  ensure(size: number): void {
    if (this.buf.length >= size) return
    this.buf = Buffer.allocUnsafeSlow(Math.max(size, this.buf.length * 2)) as Latin1
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length)
  }
}

const whole = new Scratch(WHOLE)
const head = new Scratch(64)
const tail = new Scratch(16 * 1024)
const names = new Scratch(4096)
const body = new Scratch(64 * 1024)
const extra = new Scratch(4096)
let offs = new Float64Array(256)
let sizes = new Float64Array(256)
let inFile = new Uint8Array(256)

/** Read `len` bytes of `fd` at `pos` into `buf` at `at`; false when the file ends first. */
function readFully(fd: number, buf: Buffer, at: number, len: number, pos: number): boolean {
  let got = 0
  while (got < len) {
    const n = fs.readSync(fd, buf, at + got, len - got, pos + got)
    if (n === 0) return false
    got += n
  }
  return true
}

/** A 64-bit little-endian field as a number; values past 2^53 become Infinity (beyond any file). */
function u64(v: DataView, at: number): number {
  const hi = v.getUint32(at + 4, true)
  return hi >= 0x200000 ? Infinity : hi * 0x100000000 + v.getUint32(at, true)
}

/** `b[at, end)` as a string: latin1 when it is ASCII (nearly always), else losslessly (elf/rawtext.ts). */
function text(b: Buffer, at: number, end: number): string {
  for (let i = at; i < end; i++) if (b[i]! >= 0x80) return decodeRaw(b, at, end)
  return (b as Latin1).latin1Slice(at, end)
}

/** kmod_elf_get_strings()'s segments of `b`: leading zero padding skipped, one byte left gives none. */
function eachString(b: Buffer, each: (at: number, end: number) => void): void {
  let start = 0
  let size = b.length
  if (size === 0) return
  while (b[start] === 0 && size > 1) {
    start++
    size--
  }
  if (size <= 1) return
  let i = start
  const end = start + size
  while (i < end) {
    let e = i
    while (e < end && b[e] !== 0) e++
    each(i, e)
    while (e < end && b[e] === 0) e++
    i = e
  }
}

/** kmod_elf_get_strings(): every string of `b`. */
function strings(b: Buffer): string[] {
  const out: string[] = []
  eachString(b, (at, end) => out.push(text(b, at, end)))
  return out
}

/** True when `b` at `at` holds `word` then a NUL. */
function named(b: Buffer, at: number, word: Uint8Array): boolean {
  for (let k = 0; k < word.length; k++) if (b[at + k] !== word[k]) return false
  return b[at + word.length] === 0
}

/** True when `b` at `at` starts with `word`. */
function startsWith(b: Buffer, at: number, end: number, word: Uint8Array): boolean {
  if (end - at < word.length) return false
  for (let k = 0; k < word.length; k++) if (b[at + k] !== word[k]) return false
  return true
}

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0))
const MODINFO = bytes('.modinfo')
const STRTAB = bytes('.strtab')
const SYMTAB = bytes('.symtab')
const VERSIONS = bytes('__versions')
const KSYMTAB_STRINGS = bytes('__ksymtab_strings')
const ALIAS = bytes('alias=')
const SOFTDEP = bytes('softdep=')

/** Set by {@link scanName}: the end of the name it scanned, its hash, and whether it is all ASCII. */
let scannedEnd = 0
let scannedHash = 0
let scannedAscii = true

/** Scan the NUL-terminated name at `at` (bounded by `end`): sets scannedEnd, scannedHash (FNV-1a), scannedAscii. */
function scanName(b: Buffer, at: number, end: number): void {
  let h = 0x811c9dc5
  let high = 0
  let e = at
  for (; e < end; e++) {
    const c = b[e]!
    if (c === 0) break
    high |= c
    h = Math.imul(h ^ c, 0x01000193)
  }
  scannedEnd = e
  scannedHash = h
  scannedAscii = (high & 0x80) === 0
}

/**
 * Symbol names met so far in this thread, each made into a string once: a tree's 190,000 undefined symbols
 * name about 15,000 symbols. An open-addressing table of ids (id + 1; 0 empty) by the FNV hash of the name's
 * bytes, which are kept in one arena to compare against. Fewer strings made and kept means less for the GC,
 * and the same string for the same name is hashed once by every Map that depmod looks it up in.
 */
const interned = {
  slots: new Int32Array(1 << 16),
  names: [] as string[],
  hashes: new Int32Array(1 << 14),
  at: new Int32Array(1 << 14),
  len: new Int32Array(1 << 14),
  arena: new Uint8Array(1 << 18),
  used: 0,
}

/** The id of the name `b[at, scannedEnd)` that scanName just scanned, interned on first sight. */
function intern(b: Buffer, at: number): number {
  const t = interned
  const n = scannedEnd - at
  let mask = t.slots.length - 1
  let slot = scannedHash & mask
  for (;;) {
    const id = t.slots[slot]! - 1
    if (id < 0) break
    if (t.hashes[id] === scannedHash && t.len[id] === n) {
      const from = t.at[id]!
      let k = 0
      while (k < n && t.arena[from + k] === b[at + k]) k++
      if (k === n) return id
    }
    slot = (slot + 1) & mask
  }
  const id = t.names.length
  t.names.push(scannedAscii ? (b as Latin1).latin1Slice(at, scannedEnd) : decodeRaw(b, at, scannedEnd))
  if (id === t.hashes.length) {
    t.hashes = grow(t.hashes)
    t.at = grow(t.at)
    t.len = grow(t.len)
  }
  if (t.used + n > t.arena.length) {
    const bigger = new Uint8Array(Math.max(t.arena.length * 2, t.used + n))
    bigger.set(t.arena)
    t.arena = bigger
  }
  t.arena.set(b.subarray(at, scannedEnd), t.used)
  t.hashes[id] = scannedHash
  t.at[id] = t.used
  t.len[id] = n
  t.used += n
  // kept at most half full
  if ((id + 1) * 2 > t.slots.length) {
    t.slots = new Int32Array(t.slots.length * 2)
    mask = t.slots.length - 1
    for (let k = 0; k <= id; k++) {
      let s2 = t.hashes[k]! & mask
      while (t.slots[s2] !== 0) s2 = (s2 + 1) & mask
      t.slots[s2] = k + 1
    }
  } else t.slots[slot] = id + 1
  return id
}

function grow(a: Int32Array): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(a.length * 2)
  bigger.set(a)
  return bigger
}

/**
 * Per module (a generation number), per symbol id: the first __versions entry with that name (libkmod's
 * lookup finds the first), and per entry its name's id and whether a symbol named it.
 */
let generation = 0
let firstSeen = new Int32Array(1 << 14)
let firstEntry = new Int32Array(1 << 14)
let entryId = new Int32Array(256)
let visited = new Uint8Array(256)

/** Index this module's __versions by name id (see above); false when a name has no NUL in its entry. */
function hashVersions(versions: Buffer): boolean {
  const count = versions.length / VERSION_ENTRY
  generation++
  if (entryId.length < count) {
    entryId = new Int32Array(count)
    visited = new Uint8Array(count)
  }
  visited.fill(0, 0, count)
  for (let k = 0; k < count; k++) {
    const from = k * VERSION_ENTRY + 8
    scanName(versions, from, (k + 1) * VERSION_ENTRY)
    if (scannedEnd >= (k + 1) * VERSION_ENTRY) return false
    const id = intern(versions, from)
    entryId[k] = id
    if (id >= firstSeen.length) {
      firstSeen = grow(firstSeen)
      firstEntry = grow(firstEntry)
    }
    if (firstSeen[id] !== generation) {
      firstSeen[id] = generation
      firstEntry[id] = k
    }
  }
  return true
}

/** A 32-bit little-endian field of `b`. */
const u32 = (b: Buffer, at: number) => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0

/**
 * kmod_elf_get_symbols()'s `__crc_` exports and kmod_elf_get_dependency_symbols(): the undefined symbols,
 * then the __versions entries no symbol named (hashVersions ran on `versions`); false on libkmod's unusual path.
 */
function symbols(
  symtab: Buffer,
  strtab: Buffer,
  versions: Buffer | undefined,
  shnum: number,
  size: number,
  exports: string[],
  needs: string[],
  weak: number[],
): boolean {
  const strLen = strtab.length
  const n = symtab.length / ELF64_SYM
  const names = interned.names
  for (let i = 1; i < n; i++) {
    const o = i * ELF64_SYM
    const nameOff = u32(symtab, o)
    if (nameOff >= strLen) return false
    const shndx = symtab[o + 6]! | (symtab[o + 7]! << 8)
    // "__crc_": an exported symbol; libkmod reads its CRC, asserting it lies inside the file
    if (
      strtab[nameOff] === 0x5f &&
      strtab[nameOff + 1] === 0x5f &&
      strtab[nameOff + 2] === 0x63 &&
      strtab[nameOff + 3] === 0x72 &&
      strtab[nameOff + 4] === 0x63 &&
      strtab[nameOff + 5] === 0x5f
    ) {
      if (shndx !== 0 && shndx !== SHN_ABS) {
        if (shndx >= shnum) return false
        const hi = u32(symtab, o + 12)
        const crc = hi >= 0x200000 ? Infinity : hi * 0x100000000 + u32(symtab, o + 8)
        // a CRC libkmod gives up on (-1) is fine; one it would read past the file asserts
        const givesUp = !inFile[shndx] || (sizes[shndx]! >= 4 && crc > sizes[shndx]! - 4)
        if (!givesUp && offs[shndx]! + crc + 4 > size) return false
      }
      scanName(strtab, nameOff + 6, strLen)
      exports.push(names[intern(strtab, nameOff + 6)]!)
    }
    if (shndx !== 0 || strtab[nameOff] === 0) continue
    scanName(strtab, nameOff, strLen)
    const id = intern(strtab, nameOff)
    if (versions && firstSeen[id] === generation) visited[firstEntry[id]!] = 1
    if (symtab[o + 4]! >> 4 === 2) weak.push(needs.length)
    needs.push(names[id]!)
  }
  if (versions) {
    const count = versions.length / VERSION_ENTRY
    for (let k = 0; k < count; k++) if (!visited[k]) needs.push(names[entryId[k]!]!)
  }
  return true
}

/**
 * The facts of a plain ELF64 little-endian module through positioned reads of `fd` (`size` bytes long),
 * or undefined when libkmod would take an unusual path on this file (then read it whole, see depmod-facts.ts's factsFromBytes).
 * `wholeUpTo`: files up to this size are read in one call (tests set 0 to take the positioned reads on every file).
 * @example const facts = readFactsFast(fd, fstatSync(fd).size)
 */
export function readFactsFast(fd: number, size: number, wholeUpTo = WHOLE): DepmodFacts | undefined {
  if (size <= 64) return SLOW
  // a small file: one read, every part a view of it
  const file = size <= wholeUpTo ? whole : undefined
  if (file) {
    if (!readFully(fd, file.buf, 0, size, 0)) return SLOW
  } else if (!readFully(fd, head.buf, 0, 64, 0)) return SLOW
  const h = (file ?? head).buf
  const hv = (file ?? head).view
  if (hv.getUint32(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) return SLOW
  const shoff = u64(hv, 40)
  const shentsize = hv.getUint16(58, true)
  const shnum = hv.getUint16(60, true)
  const shstrndx = hv.getUint16(62, true)
  if (shentsize !== ELF64_SHDR || shoff + shnum * ELF64_SHDR > size || shstrndx === 0 || shstrndx >= shnum) return SLOW
  // the section headers (a large file: with up to TAIL bytes before them, where the name table usually is)
  let sh = file
  let shAt = shoff
  let tailFrom = 0
  if (!sh) {
    tailFrom = Math.max(0, shoff - TAIL)
    const len = shoff + shnum * ELF64_SHDR - tailFrom
    tail.ensure(len)
    if (!readFully(fd, tail.buf, 0, len, tailFrom)) return SLOW
    sh = tail
    shAt = shoff - tailFrom
  }
  const shv = sh.view
  if (offs.length < shnum) {
    offs = new Float64Array(shnum)
    sizes = new Float64Array(shnum)
    inFile = new Uint8Array(shnum)
  }
  // libkmod's elf_get_section_info fails for a section reaching past the file (a large .bss): lookups skip it
  for (let i = 1; i < shnum; i++) {
    const p = shAt + i * ELF64_SHDR
    const o = u64(shv, p + 24)
    const s = u64(shv, p + 32)
    offs[i] = o
    sizes[i] = s
    inFile[i] = o + s <= size ? 1 : 0
  }
  const nOff = offs[shstrndx]!
  const nSize = sizes[shstrndx]!
  if (!inFile[shstrndx] || nOff >= size || nSize === 0) return SLOW
  let nm: Buffer
  if (file) nm = file.buf.subarray(nOff, nOff + nSize)
  else if (nOff >= tailFrom && nOff + nSize <= shoff + shnum * ELF64_SHDR) nm = tail.buf.subarray(nOff - tailFrom, nOff - tailFrom + nSize)
  else {
    names.ensure(nSize)
    if (!readFully(fd, names.buf, 0, nSize, nOff)) return SLOW
    nm = names.buf.subarray(0, nSize)
  }
  if (nm[nSize - 1] !== 0) return SLOW
  // kmod_elf_get_section(): the first section (from 1) with the name
  let modinfoAt = 0
  let strtabAt = 0
  let symtabAt = 0
  let versionsAt = 0
  let ksymAt = 0
  for (let i = 1; i < shnum; i++) {
    const at = shv.getUint32(shAt + i * ELF64_SHDR, true)
    if (!inFile[i] || at >= nSize) continue
    const c = nm[at]
    if (c === 0x2e) {
      if (!modinfoAt && named(nm, at, MODINFO)) modinfoAt = i
      else if (!strtabAt && named(nm, at, STRTAB)) strtabAt = i
      else if (!symtabAt && named(nm, at, SYMTAB)) symtabAt = i
    } else if (c === 0x5f) {
      if (!versionsAt && named(nm, at, VERSIONS)) versionsAt = i
      else if (!ksymAt && named(nm, at, KSYMTAB_STRINGS)) ksymAt = i
    }
  }
  // a found section starting at the end of the file: libkmod's unusual path
  if (!strtabAt) symtabAt = 0
  for (const i of [modinfoAt, strtabAt, symtabAt, versionsAt]) if (i && offs[i]! >= size) return SLOW
  // the sections' bytes: views of the small file, else read in runs of nearby sections
  let at = [0, 0, 0, 0]
  let buf: Scratch
  const want = [modinfoAt, strtabAt, symtabAt, versionsAt]
  if (file) {
    buf = file
    at = want.map((i) => (i ? offs[i]! : 0))
  } else {
    buf = body
    const order = want.filter((i) => i).sort((a, b) => offs[a]! - offs[b]!)
    // runs: [file offset, length, where in body]
    const runs: number[][] = []
    let total = 0
    for (const i of order) {
      const last = runs[runs.length - 1]
      const o = offs[i]!
      const end = o + sizes[i]!
      if (last && o - (last[0]! + last[1]!) < GAP) last[1] = Math.max(last[1]!, end - last[0]!)
      else runs.push([o, end - o, 0])
    }
    for (const r of runs) {
      r[2] = total
      total += r[1]!
    }
    body.ensure(total)
    for (const [o, len, into] of runs) if (!readFully(fd, body.buf, into!, len!, o!)) return SLOW
    at = want.map((i) => {
      if (!i) return 0
      const r = runs.find((x) => offs[i]! >= x[0]! && offs[i]! + sizes[i]! <= x[0]! + x[1]!)!
      return r[2]! + offs[i]! - r[0]!
    })
  }
  const part = (k: number): Buffer | undefined => (want[k] ? buf.buf.subarray(at[k]!, at[k]! + sizes[want[k]!]!) : undefined)
  const modinfo = part(0)
  const strtab = part(1)
  const symtab = part(2)
  const versions = part(3)

  const aliases: string[] = []
  const softdeps: string[] = []
  if (modinfo)
    eachString(modinfo, (a, e) => {
      if (startsWith(modinfo, a, e, ALIAS)) aliases.push(text(modinfo, a + ALIAS.length, e))
      else if (startsWith(modinfo, a, e, SOFTDEP)) softdeps.push(text(modinfo, a + SOFTDEP.length, e))
    })

  const exports: string[] = []
  const needs: string[] = []
  const weak: number[] = []
  if (strtab && symtab) {
    if (symtab.length % ELF64_SYM !== 0 || (strtab.length > 0 && strtab[strtab.length - 1] !== 0)) return SLOW
    if (versions && (versions.length % VERSION_ENTRY !== 0 || !hashVersions(versions))) return SLOW
    if (!symbols(symtab, strtab, versions, shnum, size, exports, needs, weak)) return SLOW
  }
  let err = 0
  if (exports.length === 0) {
    if (!ksymAt) err = -ENOENT
    else {
      const o = offs[ksymAt]!
      const s = sizes[ksymAt]!
      if (o >= size) return SLOW
      let ksym: Buffer
      if (file) ksym = file.buf.subarray(o, o + s)
      else {
        extra.ensure(s)
        if (!readFully(fd, extra.buf, 0, s, o)) return SLOW
        ksym = extra.buf.subarray(0, s)
      }
      exports.push(...strings(ksym))
    }
  }
  return { err, aliases, softdeps, exports, needs, weak }
}
