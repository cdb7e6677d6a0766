import { describe, expect, test } from 'vitest'
import { GuestFault } from '../cpu/types.js'
import { Printk } from '../kernel/printk.js'
import { KernelBug } from './heap.js'
import { createKernelApi } from './index.js'
import { PageMemory, Scratch } from './test-memory.js'
import { callWith } from './testing.js'

const setup = () => {
  const memory = new PageMemory()
  const printk = new Printk(0)
  const api = createKernelApi({ memory, printk })
  const scratch = new Scratch(memory)
  const f = (name: string, ...args: Array<bigint | number>) => api.lookup(name)(callWith(memory, args))
  return { memory, printk, api, scratch, f }
}

describe('panic, randomness, RCU frees, unmodelled functions', () => {
  test("panic logs the kernel's first line at KERN_EMERG (newline dropped) and stops with a panic", () => {
    const { printk, scratch, f } = setup()
    let bug: KernelBug | undefined
    try {
      f('panic', scratch.put('bad %d\n'), 7)
    } catch (e) {
      bug = e as KernelBug
    }
    expect(bug?.kind).toBe('panic')
    expect(printk.since(0).map((r) => [r.level, r.text])).toEqual([[0, 'Kernel panic - not syncing: bad 7']])
  })

  test('get_random_* is a fixed stream, and says the VM is random', () => {
    const a = setup()
    const b = setup()
    expect(a.f('get_random_u32')).toBe(b.f('get_random_u32'))
    expect(a.api.context.notes.join()).toMatch(/random bytes/)
    const buf = a.scratch.put(new Uint8Array(5))
    a.f('get_random_bytes', buf, 5)
    expect(a.memory.read(buf, 5).some((x) => x !== 0)).toBe(true)
  })

  test('kfree_rcu frees only at the next grace period', () => {
    const { memory, api, f } = setup()
    const obj = f('__kmalloc', 64, 0xcc0) as bigint
    f('kvfree_call_rcu', obj + 16n, 16)
    expect(memory.read(obj, 1)).toHaveLength(1)
    api.quiesce()
    expect(() => memory.read(obj, 1)).toThrow(GuestFault)
    const other = f('__kmalloc', 8, 0xcc0) as bigint
    f('kvfree_call_rcu', 0, other)
    f('synchronize_rcu')
    expect(() => memory.read(other, 1)).toThrow(GuestFault)
  })

  test('an unmodelled function returns 0 and names itself in a note', () => {
    const { api, f } = setup()
    expect(f('pci_register_driver_whatever')).toBe(0)
    expect(api.context.notes).toContain('pci_register_driver_whatever: not modelled by the simulator; it returned 0')
  })

  test("_ctype is the kernel's Latin-1 table", () => {
    const { api, memory } = setup()
    const ctype = api.data.find((d) => d.name === '_ctype')!
    memory.map(0xffffffff82200000n, 256, 'rw')
    ctype.init(memory, 0xffffffff82200000n)
    expect(Array.from(memory.read(0xffffffff82200000n + 0x41n, 1))).toEqual([0x41])
    expect(Array.from(memory.read(0xffffffff82200000n + 0xa0n, 1))).toEqual([0xa0])
  })
})
