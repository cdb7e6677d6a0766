import { describe, expect, test } from 'vitest'
import { SparseMemory, split } from './memory.js'
import { GuestFault } from './types.js'

const A = 0xffffffffc0000000n

function fault(fn: () => unknown): GuestFault['info'] | undefined {
  try {
    fn()
  } catch (e) {
    if (e instanceof GuestFault) return e.info
    throw e
  }
  return undefined
}

describe('SparseMemory', () => {
  test('maps zeroed pages; reads and writes span pages', () => {
    const m = new SparseMemory()
    m.map(A, 8192, 'rw')
    expect(m.read(A + 10n, 4)).toEqual(new Uint8Array(4))
    m.write(A + 4094n, new Uint8Array([1, 2, 3, 4, 5]))
    expect([...m.read(A + 4093n, 7)]).toEqual([0, 1, 2, 3, 4, 5, 0])
    expect(m.readU64(A + 4094n)).toBe(0x0504030201n)
    m.writeU64(A + 4092n, 0x1122334455667788n)
    expect(m.readU64(A + 4092n)).toBe(0x1122334455667788n)
    expect(m.readU32(A + 4094n)).toBe(0x33445566)
  })

  test('a fresh page reads zero until its first write, which changes that page only', () => {
    const m = new SparseMemory()
    m.map(A, 3 * 4096, 'rw')
    const [lo, hi] = split(A + 4096n + 8n)
    m.write32(lo, hi, 0xdeadbeef)
    expect(m.readU32(A + 4096n + 8n)).toBe(0xdeadbeef)
    // the other pages, and pages mapped later, still read zero (the shared zero page was not written)
    expect(m.readU32(A + 8n)).toBe(0)
    expect(m.readU32(A + 8192n + 8n)).toBe(0)
    const other = new SparseMemory()
    other.map(A, 4096, 'rw')
    expect(other.readU32(A + 8n)).toBe(0)
    // a write that faults halfway changes nothing, and leaves the page still zero
    expect(fault(() => m.write(A + 8192n + 4094n, new Uint8Array(4).fill(7)))?.reason).toBe('not-present')
    expect(m.read(A + 8192n + 4094n, 2)).toEqual(new Uint8Array(2))
    // span() (apply_relocate_add's fast path) gives the page its own bytes too
    m.span(A + 16n, 4)!.set([1, 2, 3, 4])
    expect(m.readU32(A + 16n)).toBe(0x04030201)
    expect(other.readU32(A + 16n)).toBe(0)
  })

  test('mapBytes: the pages read the bytes given; a write changes that mapping only, never the bytes', () => {
    const bytes = new Uint8Array(8192).map((_, i) => i & 0xff)
    const a = new SparseMemory()
    const b = new SparseMemory()
    a.mapBytes(A, bytes, 'rwx')
    b.mapBytes(A, bytes, 'rwx')
    expect(a.readU32(A + 4096n + 4n)).toBe(0x07060504)
    a.writeU32(A + 4096n + 4n, 0xdeadbeef)
    expect(a.readU32(A + 4096n + 4n)).toBe(0xdeadbeef)
    expect(a.readU32(A + 4096n + 8n)).toBe(0x0b0a0908)
    expect(b.readU32(A + 4096n + 4n)).toBe(0x07060504)
    expect(bytes[4096 + 4]).toBe(4)
    expect(() => a.mapBytes(A + 1n, bytes, 'rw')).toThrow(/whole pages/)
  })

  test('protections hold on pages not yet written: read-only faults, made writable again it takes writes', () => {
    const m = new SparseMemory()
    m.map(A, 4096, 'rw')
    m.protect(A, 4096, 'r')
    expect(fault(() => m.writeU32(A, 1))).toMatchObject({ access: 'write', reason: 'protection' })
    expect(m.span(A, 4)).toBeUndefined()
    expect(m.readU32(A)).toBe(0)
    m.protect(A, 4096, 'rw')
    m.writeU32(A, 5)
    expect(m.readU32(A)).toBe(5)
    m.map(A + 4096n, 4096, 'rx')
    expect(fault(() => m.writeU32(A + 4096n, 1))).toMatchObject({ access: 'write', reason: 'protection' })
  })

  test('the number fast paths agree with the bigint API at every alignment', () => {
    const m = new SparseMemory()
    m.map(A, 8192, 'rw')
    for (let off = 4080; off < 4100; off++) {
      const [lo, hi] = split(A + BigInt(off))
      m.write64(lo, hi, 0x89abcdef, 0x01234567)
      expect(m.readU64(A + BigInt(off))).toBe(0x0123456789abcdefn)
      expect(m.read32(lo, hi)).toBe(0x89abcdef)
      expect(m.read16(lo, hi)).toBe(0xcdef)
      m.write16(lo, hi, 0xbeef)
      expect(m.read8(lo, hi)).toBe(0xef)
    }
  })

  test('unmapped, read-only and non-executable accesses fault with the address and reason', () => {
    const m = new SparseMemory()
    m.map(A, 4096, 'r')
    expect(fault(() => m.read(A + 4095n, 2))).toEqual({ address: A + 4096n, access: 'read', reason: 'not-present' })
    expect(fault(() => m.write(A + 8n, new Uint8Array(1)))).toEqual({ address: A + 8n, access: 'write', reason: 'protection' })
    const [lo, hi] = split(A)
    expect(fault(() => m.pageFor(lo, hi, 4))).toEqual({ address: A, access: 'exec', reason: 'protection' })
    expect(fault(() => m.readU64(8n))).toEqual({ address: 8n, access: 'read', reason: 'not-present' })
  })

  test('a store that crosses into a read-only page changes nothing', () => {
    const m = new SparseMemory()
    m.map(A, 4096, 'rw')
    m.map(A + 4096n, 4096, 'r')
    expect(fault(() => m.writeU64(A + 4092n, 0xffffffffffffffffn))?.access).toBe('write')
    expect(m.read(A + 4092n, 4)).toEqual(new Uint8Array(4))
    expect(fault(() => m.write(A + 4090n, new Uint8Array(10).fill(1)))?.address).toBe(A + 4096n)
    expect(m.read(A + 4090n, 6)).toEqual(new Uint8Array(6))
  })

  test('unmap and protect', () => {
    const m = new SparseMemory()
    m.map(A, 3 * 4096, 'rw')
    m.unmap(A + 4096n, 1)
    expect(m.isMapped(A)).toBe(true)
    expect(m.isMapped(A + 4096n)).toBe(false)
    expect(fault(() => m.readU32(A + 4100n))?.reason).toBe('not-present')
    m.protect(A + 8192n, 4096, 'r')
    expect(fault(() => m.writeU32(A + 8192n, 1))?.reason).toBe('protection')
    expect(() => m.map(A, 1, 'x' as never)).toThrow(/protection 'x'/)
  })

  test('readCString stops at NUL or the limit', () => {
    const m = new SparseMemory()
    m.map(A, 4096, 'rw')
    m.write(A, new TextEncoder().encode('hello\0world'))
    expect(m.readCString(A)).toBe('hello')
    expect(m.readCString(A, 3)).toBe('hel')
  })
})
