/**
 * depmod's facts of many modules as one binary segment: a table of their distinct strings (the 200,000
 * undefined symbols of a tree name about 15,000 symbols) and the entries as numbers referring to it.
 * depmod's helper thread hands its facts over as segments (a buffer moves between threads without a copy;
 * the facts cache stores its entries with V8's serializer, see depmod-cache.ts). Decoding makes one string
 * per distinct string.
 *
 * Layout, little-endian, every part 8-byte aligned: magic, total bytes, string count, string bytes, entry
 * count, int count (u32 each); the strings (UTF-8, joined by NULs); per entry its size and mtime (f64);
 * per entry the ints: key, err, then aliases, softdeps, exports and needs as a count and string indexes,
 * then weak as a count and indexes into needs.
 */
import type { DepmodFacts, Stamp } from './depmod-read.js'

const MAGIC = 0x33474553 // 'SEG3'
const HEAD = 24

/** One module's cache entry. */
export interface Entry {
  size: number
  mtimeMs: number
  facts: DepmodFacts
}

const pad8 = (n: number) => (n + 7) & ~7

/** ES2024's String.prototype.isWellFormed (Node 20 has it; the ES2023 lib does not declare it). */
type WellFormed = string & { isWellFormed(): boolean }

/**
 * The entries as one segment; an entry with a string that is not well-formed UTF-16 (raw bytes kept as lone
 * surrogates, which UTF-8 cannot hold) is left out.
 * @example const seg = encodeSegment([['/lib/modules/R/kernel/a.ko', { size: 1, mtimeMs: 2 }, facts]])
 */
export function encodeSegment(items: Iterable<[key: string, stamp: Stamp, facts: DepmodFacts]>): Buffer {
  const ids = new Map<string, number>()
  const table: string[] = []
  let bad: boolean
  const ref = (s: string): number => {
    let id = ids.get(s)
    if (id === undefined) {
      if (!(s as WellFormed).isWellFormed()) {
        bad = true
        return 0
      }
      id = table.length
      ids.set(s, id)
      table.push(s)
    }
    return id
  }
  // strings seldom repeated (paths, aliases, exports) go in as they are: only the needs are worth looking up
  const own = (s: string): number => {
    if (!(s as WellFormed).isWellFormed()) bad = true
    table.push(s)
    return table.length - 1
  }
  // the ints in a typed array grown as needed (400,000 for the 6.1 tree)
  let ints = new Int32Array(1 << 16)
  let n = 0
  const room = (more: number) => {
    if (n + more <= ints.length) return
    const bigger = new Int32Array(Math.max(ints.length * 2, n + more))
    bigger.set(ints.subarray(0, n))
    ints = bigger
  }
  const stamps: number[] = []
  const list = (items: string[], id: (s: string) => number) => {
    room(items.length + 1)
    ints[n++] = items.length
    for (const s of items) ints[n++] = id(s)
  }
  for (const [key, st, f] of items) {
    const start = n
    bad = false
    room(2)
    ints[n++] = own(key)
    ints[n++] = f.err
    list(f.aliases, own)
    list(f.softdeps, own)
    list(f.exports, own)
    list(f.needs, ref)
    room(f.weak.length + 1)
    ints[n++] = f.weak.length
    for (const w of f.weak) ints[n++] = w
    if (bad) n = start
    else stamps.push(st.size, st.mtimeMs)
  }
  const strings = Buffer.from(table.join('\0'))
  const entries = stamps.length / 2
  const total = HEAD + pad8(strings.length) + stamps.length * 8 + pad8(n * 4)
  // its own memory (never Node's shared pool): the typed views below start aligned, and it can be transferred
  const seg = Buffer.allocUnsafeSlow(total)
  const head = new Uint32Array(seg.buffer, seg.byteOffset, HEAD / 4)
  head.set([MAGIC, total, table.length, strings.length, entries, n])
  strings.copy(seg, HEAD)
  let at = HEAD + pad8(strings.length)
  // the padding zeroed: the bytes are the same every time
  seg.fill(0, HEAD + strings.length, at)
  new Float64Array(seg.buffer, seg.byteOffset + at, stamps.length).set(stamps)
  at += stamps.length * 8
  new Int32Array(seg.buffer, seg.byteOffset + at, n).set(ints.subarray(0, n))
  seg.fill(0, at + n * 4)
  return seg
}

/**
 * The entries of the segment at `at` in `buf` and where the next one starts, or undefined when the bytes
 * there are not a segment encodeSegment() wrote (a corrupt or truncated file).
 * @example const got = decodeSegment(seg, 0) // { entries: [['/lib/modules/R/kernel/a.ko', { size, mtimeMs, facts }]], next: seg.length }
 */
export function decodeSegment(buf: Buffer, at: number): { entries: Array<[string, Entry]>; next: number } | undefined {
  if (at + HEAD > buf.length || (buf.byteOffset + at) % 8 !== 0) return undefined
  const [magic, total, nStrings, strBytes, nEntries, nInts] = new Uint32Array(buf.buffer, buf.byteOffset + at, HEAD / 4)
  if (magic !== MAGIC || total! % 8 !== 0 || at + total! > buf.length) return undefined
  if (HEAD + pad8(strBytes!) + nEntries! * 16 + pad8(nInts! * 4) !== total) return undefined
  const strings = nStrings ? buf.toString('utf8', at + HEAD, at + HEAD + strBytes!).split('\0') : []
  if (strings.length !== nStrings) return undefined
  let off = at + HEAD + pad8(strBytes!)
  const stamps = new Float64Array(buf.buffer, buf.byteOffset + off, nEntries! * 2)
  off += nEntries! * 16
  const n = new Int32Array(buf.buffer, buf.byteOffset + off, nInts!)
  const entries: Array<[string, Entry]> = []
  let i = 0
  let ok = true
  const str = (id: number | undefined) => {
    if (id === undefined || id < 0 || id >= strings.length) {
      ok = false
      return ''
    }
    return strings[id]!
  }
  const count = () => {
    const c = n[i++]
    if (c === undefined || c < 0 || i + c > n.length) {
      ok = false
      return 0
    }
    return c
  }
  const list = () => {
    const c = count()
    const out = new Array<string>(c)
    for (let k = 0; k < c; k++) out[k] = str(n[i++])
    return out
  }
  for (let e = 0; e < nEntries! && ok; e++) {
    const key = str(n[i++])
    const err = n[i++] ?? 0
    const aliases = list()
    const softdeps = list()
    const exports = list()
    const needs = list()
    const w = count()
    const weak = Array.from(n.subarray(i, i + w))
    i += w
    if (!weak.every((k) => k >= 0 && k < needs.length)) ok = false
    entries.push([key, { size: stamps[e * 2]!, mtimeMs: stamps[e * 2 + 1]!, facts: { err, aliases, softdeps, exports, needs, weak } }])
  }
  return ok && i === n.length ? { entries, next: at + total! } : undefined
}
