import { describe, expect, test } from 'vitest'
import { GuestFault } from '../cpu/types.js'
import { allocFunctions, CacheRegistry, kmallocIndexSize } from './alloc.js'
import { dataSymbols } from './data.js'
import { readUint } from './guest.js'
import { KernelBug, KMALLOC_BASE, kmallocSize, VMALLOC_BASE, ZERO_SIZE_PTR } from './heap.js'
import { callWith, testContext } from './testing.js'

const setup = (fail?: (r: { fn: string; size: number }) => boolean) => {
  const ctx = testContext({}, { fail })
  const caches = new CacheRegistry(ctx)
  const fns = allocFunctions(ctx, caches)
  const call = (fn: string, ...args: Array<bigint | number>) => fns[fn]!(callWith(ctx.memory, args))
  return { ctx, caches, call }
}

describe('kernel heap', () => {
  test("kmalloc size classes are SLUB's on x86-64", () => {
    expect([1, 8, 9, 33, 65, 96, 97, 129, 193, 257, 4097, 8192].map(kmallocSize)).toEqual([8, 8, 16, 64, 96, 96, 128, 192, 256, 512, 8192, 8192])
    expect(kmallocSize(8193)).toBe(16384)
    expect([1, 2, 3, 13].map(kmallocIndexSize)).toEqual([96, 192, 8, 8192])
  })

  test('addresses are deterministic, in the direct map and the vmalloc range; memory starts zeroed', () => {
    const a = setup()
    const b = setup()
    const seq = (s: typeof a) => [s.call('__kmalloc', 100, 0xcc0), s.call('kmalloc_trace', 0n, 0xcc0, 24), s.call('vmalloc', 10000)]
    const got = seq(a)
    expect(seq(b)).toEqual(got)
    expect(got[0]).toBe(KMALLOC_BASE)
    expect(got[2]).toBe(VMALLOC_BASE)
    expect(a.ctx.heap.get(got[0] as bigint)?.objectSize).toBe(128)
    expect(a.call('ksize', got[1]!)).toBe(32)
    expect(readUint(a.ctx.memory, got[0] as bigint, 8)).toBe(0n)
  })

  test('kmalloc(0) is ZERO_SIZE_PTR, which faults and which kfree accepts', () => {
    const { ctx, call } = setup()
    expect(call('__kmalloc', 0, 0xcc0)).toBe(ZERO_SIZE_PTR)
    expect(() => ctx.memory.read(ZERO_SIZE_PTR, 1)).toThrow(GuestFault)
    expect(call('kfree', ZERO_SIZE_PTR)).toBeUndefined()
    expect(call('kfree', 0)).toBeUndefined()
  })

  test('use after kfree/vfree faults as not-present', () => {
    const { ctx, call } = setup()
    const p = call('__kmalloc', 64, 0xcc0) as bigint
    const v = call('vzalloc', 4096) as bigint
    call('kfree', p)
    call('vfree', v)
    expect(() => ctx.memory.read(p, 1)).toThrow(GuestFault)
    expect(() => ctx.memory.write(v, new Uint8Array(1))).toThrow(/not-present/)
    expect(ctx.heap.wasFreed(p + 8n)?.addr).toBe(p)
  })

  test("double free: an immediate one is SLUB's BUG at mm/slub.c:419; a later one is a note; vfree twice WARNs", () => {
    const { ctx, call } = setup()
    const p = call('__kmalloc', 64, 0xcc0) as bigint
    call('kfree', p)
    expect(() => call('kfree', p)).toThrow(KernelBug)
    expect(() => call('kfree', p)).toThrow(/mm\/slub.c:419/)
    call('kfree', call('__kmalloc', 64, 0xcc0) as bigint)
    call('kfree', p)
    expect(ctx.notes.join('\n')).toMatch(/double free; the real kernel does not notice/)
    const v = call('vmalloc', 100) as bigint
    call('vfree', v)
    expect(() => call('vfree', v)).toThrow(/Trying to vfree\(\) nonexistent vm area/)
  })

  test('krealloc keeps the object while it fits, else moves and copies; size 0 frees', () => {
    const { ctx, call } = setup()
    const p = call('__kmalloc', 20, 0xcc0) as bigint
    ctx.memory.write(p, new Uint8Array([1, 2, 3]))
    expect(call('krealloc', p, 32, 0xcc0)).toBe(p)
    const q = call('krealloc', p, 100, 0xcc0) as bigint
    expect(q).not.toBe(p)
    expect(Array.from(ctx.memory.read(q, 3))).toEqual([1, 2, 3])
    expect(() => ctx.memory.read(p, 1)).toThrow(GuestFault)
    expect(call('krealloc', q, 0, 0xcc0)).toBe(ZERO_SIZE_PTR)
  })

  test('kstrdup/kstrndup/kmemdup copy into fresh objects; NULL gives NULL', () => {
    const { ctx, call } = setup()
    const s = ctx.scratch.put('hello')
    const d = call('kstrdup', s, 0xcc0) as bigint
    expect(new TextDecoder().decode(ctx.memory.read(d, 6))).toBe('hello\0')
    expect(ctx.heap.get(d)?.size).toBe(6)
    const n = call('kstrndup', s, 2, 0xcc0) as bigint
    expect(Array.from(ctx.memory.read(n, 3))).toEqual([0x68, 0x65, 0])
    expect(call('kstrdup', 0, 0xcc0)).toBe(0n)
    expect(Array.from(ctx.memory.read(call('kmemdup', s, 3, 0xcc0) as bigint, 3))).toEqual([0x68, 0x65, 0x6c])
  })

  test('allocation failures happen only when asked', () => {
    const { call } = setup((r) => r.fn === '__kmalloc' && r.size > 1000)
    expect(call('__kmalloc', 2000, 0xcc0)).toBe(0n)
    expect(call('__kmalloc', 10, 0xcc0)).not.toBe(0n)
  })

  test('kmem_cache: objects of the cache size, freed back, destroy with live objects notes it', () => {
    const { ctx, call } = setup()
    const c = call('kmem_cache_create', ctx.scratch.put('kfmt_cache'), 40, 8, 0, 0) as bigint
    const o = call('kmem_cache_alloc', c, 0xcc0) as bigint
    expect(ctx.heap.get(o)?.objectSize).toBe(40)
    call('kmem_cache_destroy', c)
    expect(ctx.notes.join()).toMatch(/kfmt_cache.*live object/)
    call('kmem_cache_free', c, o)
    call('kmem_cache_destroy', c)
    expect(() => ctx.memory.read(o, 1)).toThrow(GuestFault)
  })

  test('kmalloc_caches points at a cache for every index but 0, in [type][index] order', () => {
    const { ctx, caches } = setup()
    const table = dataSymbols(ctx, caches).find((d) => d.name === 'kmalloc_caches')!
    expect(table.size).toBe(4 * 14 * 8)
    const at = 0xffffffff82000000n
    ctx.memory.map(at, table.size, 'rw')
    table.init(ctx.memory, at)
    expect(readUint(ctx.memory, at, 8)).toBe(0n)
    const c6 = readUint(ctx.memory, at + 6n * 8n, 8)
    expect(caches.caches.get(c6)?.size).toBe(64)
  })
})
