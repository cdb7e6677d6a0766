import { GuestFault, type GuestMemory, type GuestProt } from './types.js'

/** Guest page size (x86-64 base pages). */
export const PAGE_SIZE = 4096
const PAGE_MASK = 0xfff
const TWO32 = 0x100000000
const TLB_SIZE = 256

/** Protection bits of one page. */
export const PROT_R = 1
export const PROT_W = 2
export const PROT_X = 4

const PROT_BITS: Record<GuestProt, number> = { r: PROT_R, rw: PROT_R | PROT_W, rx: PROT_R | PROT_X, rwx: PROT_R | PROT_W | PROT_X }

/** The one page of zeros every freshly mapped page reads until its first write (never written itself). */
const ZERO_PAGE = new Uint8Array(PAGE_SIZE)
const ZERO_VIEW = new DataView(ZERO_PAGE.buffer)

/**
 * One mapped 4 KiB page; `code` caches decoded instructions and is dropped on any write. A page can share
 * bytes it must not change: ZERO_PAGE, fresh from map(), or a range given to mapBytes(). Until its first
 * write `shared` holds its protection and `prot` lacks PROT_W, so a store takes pageFor()'s slow path,
 * which gives the page its own copy: most of a kernel stack, the per-CPU area or a kzalloc'ed object is
 * never written, nor is a module's text, and costs nothing.
 */
export class Page {
  prot: number
  view: DataView
  data: Uint8Array
  /** Decoded instructions by page offset (owned by the CPU; cleared when the page is written). */
  code: unknown[] | undefined = undefined
  /** The instructions of the kernel functions bound in this page, by page offset (owned by the CPU). */
  host: Map<number, unknown> | undefined = undefined
  /** While the page still shares its bytes: its protection bits (0 once it has its own). */
  shared: number

  /** `data`: 4 KiB the page shares until its first write (default ZERO_PAGE). */
  constructor(prot: number, data: Uint8Array = ZERO_PAGE) {
    this.shared = prot
    this.prot = prot & ~PROT_W
    this.data = data
    this.view = data === ZERO_PAGE ? ZERO_VIEW : new DataView(data.buffer, data.byteOffset, PAGE_SIZE)
  }

  /** Gives a page that shares its bytes its own copy of them: the first write to it. */
  own(): void {
    const data = new Uint8Array(PAGE_SIZE)
    if (this.data !== ZERO_PAGE) data.set(this.data)
    this.data = data
    this.view = new DataView(data.buffer)
    this.prot = this.shared
    this.shared = 0
  }
}

/** Page number (addr >> 12) of a 64-bit address given as 32-bit halves: exact in a double (52 bits). */
export function pageKey(lo: number, hi: number): number {
  return hi * 0x100000 + (lo >>> 12)
}

/** A 64-bit address from its 32-bit halves. */
export function toBig(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)
}

/** Split a bigint address into [lo, hi] 32-bit halves (two's complement for negatives). */
export function split(addr: bigint): [number, number] {
  const a = BigInt.asUintN(64, addr)
  return [Number(a & 0xffffffffn), Number(a >> 32n)]
}

/**
 * Sparse guest memory of 4 KiB pages with r/w/x protections. The bigint methods implement the
 * `GuestMemory` contract; the number-pair methods (`read32(lo, hi)` ...) are the interpreter's
 * fast paths: no allocation per access, a small direct-mapped TLB in front of the page map.
 *
 * @example
 * const mem = new SparseMemory()
 * mem.map(0xffffffffc0000000n, 8192, 'rw')
 * mem.write(0xffffffffc0000000n, new Uint8Array([1, 2, 3]))
 * mem.read(0xffffffffc0000000n, 3) // Uint8Array [1, 2, 3]
 */
export class SparseMemory implements GuestMemory {
  private readonly pages = new Map<number, Page>()
  private readonly tlbKey = new Float64Array(TLB_SIZE).fill(-1)
  private readonly tlbPage: Array<Page | undefined> = new Array(TLB_SIZE).fill(undefined)
  /** High half of the last 64-bit read (`read64`). */
  hi = 0
  /** Bumped by map/unmap/protect: lets callers cache page lookups safely. */
  epoch = 0

  /** The page holding an address, or undefined. */
  page(lo: number, hi: number): Page | undefined {
    const key = pageKey(lo, hi)
    const slot = (lo >>> 12) & (TLB_SIZE - 1)
    if (this.tlbKey[slot] === key) return this.tlbPage[slot]
    const p = this.pages.get(key)
    if (p) {
      this.tlbKey[slot] = key
      this.tlbPage[slot] = p
    }
    return p
  }

  /** The page for an access, or a GuestFault. */
  pageFor(lo: number, hi: number, need: number): Page {
    const p = this.page(lo, hi)
    if (p !== undefined && (p.prot & need) === need) return p
    if (p !== undefined && (p.shared & need) === need) {
      p.own()
      return p
    }
    throw new GuestFault({
      address: toBig(lo, hi),
      access: need === PROT_W ? 'write' : need === PROT_X ? 'exec' : 'read',
      reason: p === undefined ? 'not-present' : 'protection',
    })
  }

  read8(lo: number, hi: number): number {
    return this.pageFor(lo, hi, PROT_R).data[lo & PAGE_MASK]!
  }
  read16(lo: number, hi: number): number {
    const o = lo & PAGE_MASK
    if (o > PAGE_SIZE - 2) return this.slowRead(lo, hi, 2)
    return this.pageFor(lo, hi, PROT_R).view.getUint16(o, true)
  }
  read32(lo: number, hi: number): number {
    const o = lo & PAGE_MASK
    if (o > PAGE_SIZE - 4) return this.slowRead(lo, hi, 4)
    return this.pageFor(lo, hi, PROT_R).view.getUint32(o, true)
  }
  /** Low half of a 64-bit load; the high half is left in `this.hi`. */
  read64(lo: number, hi: number): number {
    const o = lo & PAGE_MASK
    if (o > PAGE_SIZE - 8) {
      const l = this.slowRead(lo, hi, 4)
      const [l2, h2] = add32(lo, hi, 4)
      this.hi = this.slowRead(l2, h2, 4)
      return l
    }
    const v = this.pageFor(lo, hi, PROT_R).view
    this.hi = v.getUint32(o + 4, true)
    return v.getUint32(o, true)
  }

  write8(lo: number, hi: number, v: number): void {
    const p = this.pageFor(lo, hi, PROT_W)
    p.code = undefined
    p.data[lo & PAGE_MASK] = v
  }
  write16(lo: number, hi: number, v: number): void {
    const o = lo & PAGE_MASK
    if (o > PAGE_SIZE - 2) return this.slowWrite(lo, hi, v, 2)
    const p = this.pageFor(lo, hi, PROT_W)
    p.code = undefined
    p.view.setUint16(o, v, true)
  }
  write32(lo: number, hi: number, v: number): void {
    const o = lo & PAGE_MASK
    if (o > PAGE_SIZE - 4) return this.slowWrite(lo, hi, v, 4)
    const p = this.pageFor(lo, hi, PROT_W)
    p.code = undefined
    p.view.setUint32(o, v >>> 0, true)
  }
  write64(lo: number, hi: number, vlo: number, vhi: number): void {
    const o = lo & PAGE_MASK
    if (o > PAGE_SIZE - 8) {
      // Check both pages before writing either, so a faulting store changes nothing.
      const [l2, h2] = add32(lo, hi, 7)
      this.pageFor(lo, hi, PROT_W)
      this.pageFor(l2, h2, PROT_W)
      this.slowWrite(lo, hi, vlo, 4)
      const [l3, h3] = add32(lo, hi, 4)
      return this.slowWrite(l3, h3, vhi, 4)
    }
    const p = this.pageFor(lo, hi, PROT_W)
    p.code = undefined
    p.view.setUint32(o, vlo >>> 0, true)
    p.view.setUint32(o + 4, vhi >>> 0, true)
  }

  /** A load of `n` ≤ 4 bytes that crosses a page boundary (little-endian, byte by byte). */
  private slowRead(lo: number, hi: number, n: number): number {
    let v = 0
    for (let i = 0; i < n; i++) {
      const [l, h] = add32(lo, hi, i)
      v += this.read8(l, h) * 2 ** (8 * i)
    }
    return v
  }
  private slowWrite(lo: number, hi: number, v: number, n: number): void {
    for (let i = 0; i < n; i++) {
      const [l, h] = add32(lo, hi, i)
      this.pageFor(l, h, PROT_W)
    }
    for (let i = 0; i < n; i++) {
      const [l, h] = add32(lo, hi, i)
      this.write8(l, h, (v >>> (8 * i)) & 0xff)
    }
  }

  read(addr: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len)
    let [lo, hi] = split(addr)
    let i = 0
    while (i < len) {
      const p = this.pageFor(lo, hi, PROT_R)
      const o = lo & PAGE_MASK
      const n = Math.min(len - i, PAGE_SIZE - o)
      out.set(p.data.subarray(o, o + n), i)
      i += n
      ;[lo, hi] = add32(lo, hi, n)
    }
    return out
  }

  write(addr: bigint, data: Uint8Array): void {
    this.check(addr, data.length, PROT_W)
    let [lo, hi] = split(addr)
    let i = 0
    while (i < data.length) {
      const p = this.pageFor(lo, hi, PROT_W)
      const o = lo & PAGE_MASK
      const n = Math.min(data.length - i, PAGE_SIZE - o)
      p.code = undefined
      p.data.set(data.subarray(i, i + n), o)
      i += n
      ;[lo, hi] = add32(lo, hi, n)
    }
  }

  /** Throws the GuestFault the first inaccessible byte of [addr, addr+len) would raise. */
  check(addr: bigint, len: number, need: number): void {
    if (len <= 0) return
    let [lo, hi] = split(addr)
    // the first byte, then the first byte of each following page the range reaches
    let left = len
    for (;;) {
      this.pageFor(lo, hi, need)
      const room = PAGE_SIZE - (lo & PAGE_MASK)
      if (left <= room) return
      left -= room
      ;[lo, hi] = add32(lo, hi, room)
    }
  }

  /** Maps fresh zeroed pages (replacing any mapped there) covering [addr, addr+len). */
  map(addr: bigint, len: number, prot: GuestProt): void {
    const bits = PROT_BITS[prot]
    if (bits === undefined) throw new Error(`map: protection '${prot}' is not one of r, rw, rx, rwx`)
    this.eachPage(addr, len, (key) => {
      this.pages.set(key, new Page(bits))
      this.forget(key)
    })
    this.flushTlb(this.pageCount(addr, len))
  }

  /**
   * Maps pages that read `bytes` (replacing any mapped there) at page-aligned `addr`. The pages share
   * `bytes` until each is first written, so the caller must never change them: a module's allocation
   * made again from an earlier load's bytes copies only the pages its code writes.
   */
  mapBytes(addr: bigint, bytes: Uint8Array, prot: GuestProt): void {
    const bits = PROT_BITS[prot]
    if (bits === undefined) throw new Error(`map: protection '${prot}' is not one of r, rw, rx, rwx`)
    if ((Number(BigInt.asUintN(12, addr)) | (bytes.length % PAGE_SIZE)) !== 0) throw new Error('mapBytes: the address and the length must be whole pages')
    let i = 0
    this.eachPage(addr, bytes.length, (key) => {
      this.pages.set(key, new Page(bits, bytes.subarray(i * PAGE_SIZE, ++i * PAGE_SIZE)))
      this.forget(key)
    })
    this.flushTlb(bytes.length / PAGE_SIZE)
  }

  unmap(addr: bigint, len: number): void {
    this.eachPage(addr, len, (key) => {
      this.pages.delete(key)
      this.forget(key)
    })
    this.flushTlb(this.pageCount(addr, len))
  }

  /**
   * A writable view of [addr, addr+len) when it lies inside one page that is readable and writable (the page's
   * decoded code dropped, as a write does), else undefined: apply_relocate_add's fast path, which then
   * faults exactly as read() and write() would by taking the slow path.
   */
  span(addr: bigint, len: number): Uint8Array | undefined {
    const [lo, hi] = split(addr)
    const o = lo & PAGE_MASK
    if (len <= 0 || o + len > PAGE_SIZE) return undefined
    const p = this.page(lo, hi)
    if (p === undefined || ((p.prot | p.shared) & (PROT_R | PROT_W)) !== (PROT_R | PROT_W)) return undefined
    if (p.shared !== 0) p.own()
    p.code = undefined
    return p.data.subarray(o, o + len)
  }

  protect(addr: bigint, len: number, prot: GuestProt): void {
    const bits = PROT_BITS[prot]
    if (bits === undefined) throw new Error(`protect: protection '${prot}' is not one of r, rw, rx, rwx`)
    this.eachPage(addr, len, (key) => {
      const p = this.pages.get(key)
      if (!p) throw new GuestFault({ address: BigInt(key) << 12n, access: 'read', reason: 'not-present' })
      if (p.shared !== 0) {
        p.shared = bits
        p.prot = bits & ~PROT_W
      } else p.prot = bits
    })
    this.epoch++
  }

  /** Whether every page of [addr, addr+len) is mapped. */
  isMapped(addr: bigint, len = 1): boolean {
    let ok = true
    this.eachPage(addr, len, (key) => {
      if (!this.pages.has(key)) ok = false
    })
    return ok
  }

  /** An unsigned 64-bit load (convenience for host functions). */
  readU64(addr: bigint): bigint {
    const [lo, hi] = split(addr)
    const l = this.read64(lo, hi)
    return toBig(l, this.hi)
  }
  /** An unsigned 32-bit load. */
  readU32(addr: bigint): number {
    const [lo, hi] = split(addr)
    return this.read32(lo, hi)
  }
  /** A 64-bit store. */
  writeU64(addr: bigint, value: bigint): void {
    const [lo, hi] = split(addr)
    const [vlo, vhi] = split(value)
    this.write64(lo, hi, vlo, vhi)
  }
  /** A 32-bit store. */
  writeU32(addr: bigint, value: number): void {
    const [lo, hi] = split(addr)
    this.write32(lo, hi, value)
  }
  /** The NUL-terminated byte string at `addr` (at most `max` bytes), as latin1 text. */
  readCString(addr: bigint, max = 4096): string {
    let [lo, hi] = split(addr)
    let s = ''
    for (let i = 0; i < max; i++) {
      const b = this.read8(lo, hi)
      if (b === 0) break
      s += String.fromCharCode(b)
      ;[lo, hi] = add32(lo, hi, 1)
    }
    return s
  }

  /** After map/unmap of `pages` pages: forget() already dropped their TLB slots unless the range was larger than the TLB. */
  private flushTlb(pages = TLB_SIZE): void {
    this.epoch++
    if (pages < TLB_SIZE) return
    this.tlbKey.fill(-1)
    this.tlbPage.fill(undefined)
  }

  /** Drop page `key`'s TLB slot if it holds it (a slot is key mod TLB_SIZE: pageKey's high part is a multiple of 2^20). */
  private forget(key: number): void {
    const slot = key % TLB_SIZE
    if (this.tlbKey[slot] === key) {
      this.tlbKey[slot] = -1
      this.tlbPage[slot] = undefined
    }
  }

  private pageCount(addr: bigint, len: number): number {
    if (len <= 0) return 0
    return Number((BigInt.asUintN(64, addr + BigInt(len) - 1n) >> 12n) - (BigInt.asUintN(64, addr) >> 12n) + 1n)
  }

  private eachPage(addr: bigint, len: number, fn: (key: number) => void): void {
    if (len <= 0) return
    const start = BigInt.asUintN(64, addr) >> 12n
    const end = BigInt.asUintN(64, addr + BigInt(len) - 1n) >> 12n
    if (end < start) throw new Error(`memory range 0x${BigInt.asUintN(64, addr).toString(16)}+${len} wraps around the address space`)
    // page numbers are below 2^52: exact in a double, so the walk needs no bigint per page
    const first = Number(start)
    const last = Number(end)
    for (let key = first; key <= last; key++) fn(key)
  }
}

/** (lo, hi) + n for a small non-negative n, as a new pair. */
export function add32(lo: number, hi: number, n: number): [number, number] {
  const s = lo + n
  return s >= TWO32 ? [s - TWO32, (hi + 1) >>> 0] : [s, hi]
}
