// More %p extensions of lib/vsprintf.c (Linux 6.1), those that format plain bytes: %pU (uuid_string),
// %pa (address_val), %p4cc (fourcc_string), %pNF (netdev_bits), %*pb and %*pbl (bitmap_string/_list).
import { utf8 } from './guest.js'
import { SMALL, SPECIAL, ZEROPAD, checkPointer, errorString, number, stringBytes, type Fmt, type Out, type Spec } from './vsprintf-core.js'

const ch = (ext: Uint8Array, i: number): string => (i < ext.length && ext[i] !== 0 ? String.fromCharCode(ext[i]!) : '')
const le = (b: Uint8Array): bigint => b.reduceRight((v, x) => (v << 8n) | BigInt(x), 0n)

/** special_hex_number(): "0x" and 2*size zero-padded digits; the caller's width is not used. */
export function specialHex(out: Out, num: bigint, size: number): void {
  number(out, num, { flags: SPECIAL | SMALL | ZEROPAD, fieldWidth: 2 + 2 * size, precision: -1, base: 16 })
}

const GUID_INDEX = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15]

/** uuid_string(): %pU/%pUb big-endian, %pUl/%pUL the GUID byte order; B and L print upper case. */
export function uuidString(f: Fmt, out: Out, ptr: bigint, spec: Spec, ext: Uint8Array): void {
  if (checkPointer(out, ptr, spec)) return
  const mod = ch(ext, 1)
  const upper = mod === 'B' || mod === 'L'
  const index = mod === 'l' || mod === 'L' ? GUID_INDEX : GUID_INDEX.map((_, i) => i)
  const b = f.mem.read(ptr, 16)
  let s = ''
  index.forEach((at, i) => {
    s += b[at]!.toString(16).padStart(2, '0') // at < 16, b holds 16 bytes
    if (i === 3 || i === 5 || i === 7 || i === 9) s += '-'
  })
  stringBytes(out, utf8(upper ? s.toUpperCase() : s), spec)
}

/** address_val(): %pa/%pap a phys_addr_t, %pad a dma_addr_t (both 8 bytes on x86-64). */
export function addressVal(f: Fmt, out: Out, ptr: bigint, spec: Spec): void {
  if (checkPointer(out, ptr, spec)) return
  specialHex(out, le(f.mem.read(ptr, 8)), 8)
}

/** fourcc_string(): "%p4cc" prints the four characters, the endianness bit, and the value. */
export function fourccString(f: Fmt, out: Out, ptr: bigint, spec: Spec, ext: Uint8Array): void {
  if (ch(ext, 1) !== 'c' || ch(ext, 2) !== 'c') return errorString(out, '(%p4?)', spec)
  if (checkPointer(out, ptr, spec)) return
  const orig = le(f.mem.read(ptr, 4))
  const val = orig & 0x7fffffffn
  let s = ''
  for (let i = 0n; i < 4n; i++) {
    const c = Number((val >> (i * 8n)) & 0xffn)
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.'
  }
  // special_hex_number(orig, 4) into the same buffer: 0x and 8 digits.
  s += ` ${orig & 0x80000000n ? 'big-endian' : 'little-endian'} (0x${orig.toString(16).padStart(8, '0')})`
  stringBytes(out, utf8(s), spec)
}

/** netdev_bits(): %pNF a netdev_features_t (u64). */
export function netdevBits(f: Fmt, out: Out, ptr: bigint, spec: Spec, ext: Uint8Array): void {
  if (checkPointer(out, ptr, spec)) return
  if (ch(ext, 1) !== 'F') return errorString(out, '(%pN?)', spec)
  specialHex(out, le(f.mem.read(ptr, 8)), 8)
}

/** The first `nbits` bits of an unsigned long array (little-endian words, so bit i is byte i/8's bit i%8). */
function bits(f: Fmt, ptr: bigint, nbits: number): (i: number) => boolean {
  const bytes = f.mem.read(ptr, Math.ceil(nbits / 64) * 8)
  return (i) => ((bytes[i >> 3]! >> (i & 7)) & 1) === 1 // callers ask for i < nbits
}

/** bitmap_string(): %*pb, 32-bit chunks in hex from the top, comma-separated, the first one partial. */
export function bitmapString(f: Fmt, out: Out, ptr: bigint, spec: Spec): void {
  const nbits = Math.max(spec.fieldWidth, 0)
  if (checkPointer(out, ptr, spec)) return
  const bit = bits(f, ptr, nbits)
  let chunk = nbits & 31 || 32
  let first = true
  for (let i = Math.ceil(nbits / 32) * 32 - 32; i >= 0; i -= 32) {
    let val = 0n
    for (let j = chunk - 1; j >= 0; j--) val = (val << 1n) | (bit(i + j) ? 1n : 0n)
    if (!first) out.push(0x2c)
    first = false
    number(out, val, { flags: SMALL | ZEROPAD, fieldWidth: Math.ceil(chunk / 4), precision: -1, base: 16 })
    chunk = 32
  }
}

/** bitmap_list_string(): %*pbl, ranges of set bits as "0,3-5". */
export function bitmapList(f: Fmt, out: Out, ptr: bigint, spec: Spec): void {
  const nbits = Math.max(spec.fieldWidth, 0)
  if (checkPointer(out, ptr, spec)) return
  const bit = bits(f, ptr, nbits)
  const parts: string[] = []
  for (let i = 0; i < nbits; i++) {
    if (!bit(i)) continue
    let top = i
    while (top + 1 < nbits && bit(top + 1)) top++
    parts.push(top === i ? `${i}` : `${i}-${top}`)
    i = top
  }
  out.pushAscii(parts.join(','))
}
