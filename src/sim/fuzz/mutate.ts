/**
 * A seeded generator of corrupted module files: each case is one well-formed `.ko` with one to
 * three ELF-aware mutations (header fields, section headers, symbols, relocations, section bytes,
 * truncation). The same seed and case number always give the same bytes, so a failure reproduces.
 */

/** mulberry32: a small, fast, seedable 32-bit PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}

/** The random source of one case: seed and case number mixed, so cases are independent. */
export function caseRandom(seed: number, caseNo: number): () => number {
  return prng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(caseNo + 1, 0xc2b2ae35))
}

/** One element of a non-empty list, chosen by `rand` (one call, so seeds keep their cases). */
function oneOf<T>(rand: () => number, xs: readonly T[]): T {
  // rand() is a non-negative integer, so the index is below xs.length.
  return xs[rand() % xs.length]!
}

export interface Mutant {
  bytes: Uint8Array
  /** What was done, for the failure report ("shdr[5].sh_size = 0xffffffffffffffff; truncate 812"). */
  how: string[]
}

interface Shape {
  shoff: number
  shnum: number
  sections: Array<{ index: number; name: string; type: number; offset: number; size: number; entsize: number }>
}

/** Section headers of an ELF64 LE file, when they can be read (mutations aim at them). */
function shape(b: Uint8Array): Shape | undefined {
  if (b.length < 64 || b[4] !== 2 || b[5] !== 1) return undefined
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const shoff = Number(v.getBigUint64(40, true))
  const shnum = v.getUint16(60, true)
  const shstrndx = v.getUint16(62, true)
  if (shoff + shnum * 64 > b.length || shstrndx >= shnum) return undefined
  const raw = (i: number) => {
    const o = shoff + i * 64
    return {
      nameOff: v.getUint32(o, true),
      type: v.getUint32(o + 4, true),
      offset: Number(v.getBigUint64(o + 24, true)),
      size: Number(v.getBigUint64(o + 32, true)),
      entsize: Number(v.getBigUint64(o + 56, true)),
    }
  }
  const str = raw(shstrndx)
  const sections: Shape['sections'] = []
  for (let i = 0; i < shnum; i++) {
    const s = raw(i)
    let name = ''
    for (let k = str.offset + s.nameOff; k < b.length && b[k] !== 0 && name.length < 64; k++) name += String.fromCharCode(b[k]!)
    sections.push({ index: i, name, type: s.type, offset: s.offset, size: s.size, entsize: s.entsize })
  }
  return { shoff, shnum, sections }
}

const hex = (n: bigint) => `0x${n.toString(16)}`

/** Values that break size and offset arithmetic. */
function interesting(rand: () => number, bits: 8 | 16 | 32 | 64, fileSize: number, old: bigint): bigint {
  const max = (1n << BigInt(bits)) - 1n
  const picks: bigint[] = [
    0n,
    1n,
    2n,
    3n,
    4n,
    7n,
    8n,
    16n,
    24n,
    64n,
    max,
    max - 1n,
    1n << BigInt(bits - 1),
    BigInt(fileSize),
    BigInt(fileSize + 1),
    BigInt(Math.max(0, fileSize - 1)),
    old + 1n,
    old > 0n ? old - 1n : 0n,
    old * 2n,
    BigInt(rand() % 4096),
    BigInt(rand()),
  ]
  if (bits === 64) picks.push(1n << 32n, 1n << 53n, (1n << 53n) + 1n, 0x7fffffffffffffffn, -9223372036854775808n & max)
  return oneOf(rand, picks) & max
}

function readField(v: DataView, at: number, bits: 8 | 16 | 32 | 64): bigint {
  if (bits === 8) return BigInt(v.getUint8(at))
  if (bits === 16) return BigInt(v.getUint16(at, true))
  if (bits === 32) return BigInt(v.getUint32(at, true))
  return v.getBigUint64(at, true)
}

function writeField(v: DataView, at: number, bits: 8 | 16 | 32 | 64, value: bigint): void {
  if (at + bits / 8 > v.byteLength) return
  if (bits === 8) v.setUint8(at, Number(value))
  else if (bits === 16) v.setUint16(at, Number(value), true)
  else if (bits === 32) v.setUint32(at, Number(value), true)
  else v.setBigUint64(at, value, true)
}

const EHDR_FIELDS: Array<[string, number, 8 | 16 | 32 | 64]> = [
  ['EI_CLASS', 4, 8],
  ['EI_DATA', 5, 8],
  ['e_type', 16, 16],
  ['e_machine', 18, 16],
  ['e_shoff', 40, 64],
  ['e_shentsize', 58, 16],
  ['e_shnum', 60, 16],
  ['e_shstrndx', 62, 16],
]
const SHDR_FIELDS: Array<[string, number, 8 | 16 | 32 | 64]> = [
  ['sh_name', 0, 32],
  ['sh_type', 4, 32],
  ['sh_flags', 8, 64],
  ['sh_addr', 16, 64],
  ['sh_offset', 24, 64],
  ['sh_size', 32, 64],
  ['sh_link', 40, 32],
  ['sh_info', 44, 32],
  ['sh_addralign', 48, 64],
  ['sh_entsize', 56, 64],
]
const SYM_FIELDS: Array<[string, number, 8 | 16 | 32 | 64]> = [
  ['st_name', 0, 32],
  ['st_info', 4, 8],
  ['st_shndx', 6, 16],
  ['st_value', 8, 64],
  ['st_size', 16, 64],
]
const RELA_FIELDS: Array<[string, number, 8 | 16 | 32 | 64]> = [
  ['r_offset', 0, 64],
  ['r_type', 8, 32],
  ['r_sym', 12, 32],
  ['r_addend', 16, 64],
]
/** Bytes that make text interesting: invalid UTF-8, '=', ':', NUL, JSON breakers. */
const TEXT_BYTES = [0x00, 0xff, 0xc3, 0x80, 0xed, 0xa0, 0x3d, 0x3a, 0x0a, 0x22, 0x7b, 0x5b, 0x5d, 0x7d, 0x2c, 0x2d, 0x41]

/**
 * One corrupted copy of `base` (an ELF64 LE `.ko`): 1-3 mutations chosen by `rand`.
 * @example const m = mutate(readFileSync('fixtures/hello/hello_api.ko'), caseRandom(1, 0)); m.how // ['shdr[3].sh_size = 0x0']
 */
export function mutate(base: Uint8Array, rand: () => number): Mutant {
  let bytes = Uint8Array.from(base)
  const how: string[] = []
  const n = 1 + (rand() % 3)
  for (let k = 0; k < n; k++) {
    const v = new DataView(bytes.buffer)
    const s = shape(bytes)
    const pick = rand() % 100
    const field = (label: string, at: number, bits: 8 | 16 | 32 | 64) => {
      if (at + bits / 8 > bytes.length) return
      const value = interesting(rand, bits, bytes.length, readField(v, at, bits))
      writeField(v, at, bits, value)
      how.push(`${label} = ${hex(value)}`)
    }
    if (pick < 12 || !s) {
      const [name, at, bits] = oneOf(rand, EHDR_FIELDS)
      field(name, at, bits)
    } else if (pick < 45) {
      const i = rand() % s.shnum
      const [name, off, bits] = oneOf(rand, SHDR_FIELDS)
      field(`shdr[${i}].${name}`, s.shoff + i * 64 + off, bits)
    } else if (pick < 60) {
      const symtab = s.sections.find((x) => x.type === 2)
      if (!symtab || symtab.size < 48) continue
      const i = 1 + (rand() % (Math.floor(symtab.size / 24) - 1))
      const [name, off, bits] = oneOf(rand, SYM_FIELDS)
      field(`sym[${i}].${name}`, symtab.offset + i * 24 + off, bits)
    } else if (pick < 70) {
      const relas = s.sections.filter((x) => x.type === 4 && x.size >= 24)
      if (relas.length === 0) continue
      const r = oneOf(rand, relas)
      const i = rand() % Math.floor(r.size / 24)
      const [name, off, bits] = oneOf(rand, RELA_FIELDS)
      field(`${r.name}[${i}].${name}`, r.offset + i * 24 + off, bits)
    } else if (pick < 88) {
      // Bytes inside a section the tools read as text or tables.
      const wanted = [
        '.modinfo',
        '.strtab',
        '.shstrtab',
        '__versions',
        '.gnu.linkonce.this_module',
        '.kmodspec.behaviour',
        '__ksymtab_strings',
        '__param',
        '.rodata.str1.1',
        '.text',
        '.init.text',
      ]
      const cands = s.sections.filter((x) => wanted.includes(x.name) && x.size > 0 && x.offset + x.size <= bytes.length)
      if (cands.length === 0) continue
      const sec = oneOf(rand, cands)
      const count = 1 + (rand() % 4)
      for (let c = 0; c < count; c++) {
        const at = sec.offset + (rand() % sec.size)
        const val = rand() % 2 ? oneOf(rand, TEXT_BYTES) : rand() & 0xff
        bytes[at] = val
        how.push(`${sec.name}+${at - sec.offset} = 0x${val.toString(16)}`)
      }
    } else if (pick < 95) {
      const len = rand() % bytes.length
      bytes = bytes.slice(0, len)
      how.push(`truncate ${len}`)
    } else {
      const extra = Uint8Array.from({ length: 1 + (rand() % 64) }, () => rand() & 0xff)
      const grown = new Uint8Array(bytes.length + extra.length)
      grown.set(bytes)
      grown.set(extra, bytes.length)
      bytes = grown
      how.push(`append ${extra.length} bytes`)
    }
  }
  return { bytes, how }
}
