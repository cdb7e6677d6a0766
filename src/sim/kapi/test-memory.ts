// A small page-map GuestMemory for the kapi tests (the CPU's real memory lives in src/sim/cpu).
import { GuestFault, type GuestMemory, type GuestProt } from '../cpu/types.js'

const PAGE = 4096n

/**
 * Sparse guest memory: a Map of 4 KiB pages with protections; unmapped bytes fault.
 * @example const mem = new PageMemory(); mem.map(0xffff888000000000n, 4096, 'rw')
 */
export class PageMemory implements GuestMemory {
  private readonly pages = new Map<bigint, { data: Uint8Array; prot: GuestProt }>()

  read(addr: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len)
    let done = 0
    while (done < len) {
      const a = addr + BigInt(done)
      const base = a & ~(PAGE - 1n)
      const page = this.pages.get(base)
      if (!page) throw new GuestFault({ address: a, access: 'read', reason: 'not-present' })
      const off = Number(a - base)
      const n = Math.min(len - done, Number(PAGE) - off)
      out.set(page.data.subarray(off, off + n), done)
      done += n
    }
    return out
  }

  write(addr: bigint, data: Uint8Array): void {
    let done = 0
    while (done < data.length) {
      const a = addr + BigInt(done)
      const base = a & ~(PAGE - 1n)
      const page = this.pages.get(base)
      if (!page) throw new GuestFault({ address: a, access: 'write', reason: 'not-present' })
      if (!page.prot.includes('w')) throw new GuestFault({ address: a, access: 'write', reason: 'protection' })
      const off = Number(a - base)
      const n = Math.min(data.length - done, Number(PAGE) - off)
      page.data.set(data.subarray(done, done + n), off)
      done += n
    }
  }

  map(addr: bigint, len: number, prot: GuestProt): void {
    for (let p = addr & ~(PAGE - 1n); p < addr + BigInt(len); p += PAGE) this.pages.set(p, { data: new Uint8Array(Number(PAGE)), prot })
  }

  unmap(addr: bigint, len: number): void {
    for (let p = addr & ~(PAGE - 1n); p < addr + BigInt(len); p += PAGE) this.pages.delete(p)
  }

  protect(addr: bigint, len: number, prot: GuestProt): void {
    for (let p = addr & ~(PAGE - 1n); p < addr + BigInt(len); p += PAGE) {
      const page = this.pages.get(p)
      if (page) page.prot = prot
    }
  }

  /** Test helper: maps fresh pages and writes bytes (a string gets a NUL terminator). */
  put(addr: bigint, data: Uint8Array | string): bigint {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(`${data}\0`) : data
    for (let p = addr & ~(PAGE - 1n); p < addr + BigInt(Math.max(bytes.length, 1)); p += PAGE) {
      if (!this.pages.has(p)) this.map(p, 1, 'rw')
    }
    this.write(addr, bytes)
    return addr
  }
}

/** A bump allocator of guest scratch space for test strings and buffers. */
export class Scratch {
  private next: bigint
  constructor(
    private readonly mem: PageMemory,
    base = 0xffff888000010000n,
  ) {
    this.next = base
  }
  /** Copies a string (NUL-terminated) or bytes into fresh guest memory; returns the address. */
  put(data: Uint8Array | string, align = 16n): bigint {
    const addr = this.next
    const len = typeof data === 'string' ? new TextEncoder().encode(data).length + 1 : data.length
    this.next = (addr + BigInt(Math.max(len, 1)) + align - 1n) & ~(align - 1n)
    return this.mem.put(addr, data)
  }
}
