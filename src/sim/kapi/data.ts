// Kernel variables a module reads directly (not through a call): the loader gives each an address
// in guest memory; these say how big each is, what it holds, and how to refresh the ones that move.
import type { GuestMemory } from '../cpu/types.js'
import { KMALLOC_INDEXES, KMALLOC_TYPES, type CacheRegistry } from './alloc.js'
import type { KapiContext } from './context.js'
import { CTYPE } from './ctype.js'
import { writeUint } from './guest.js'
import { jiffies } from './time.js'

/** One exported kernel variable. */
export interface DataSymbol {
  name: string
  size: number
  /** Writes its value at `addr` (mapped by the caller, `size` bytes). */
  init(mem: GuestMemory, addr: bigint): void
  /** Rewrites a value that changes with the virtual clock (call before running module code). */
  sync?(mem: GuestMemory, addr: bigint): void
}

/**
 * The variables kapi defines: jiffies (u64 on the virtual clock), kmalloc_caches (the table the
 * inline kmalloc indexes), and the x86-64 memory-map bases (without KASLR of the direct map).
 * @example for (const d of dataSymbols(ctx, caches)) { mem.map(at, d.size, 'rw'); d.init(mem, at) }
 */
export function dataSymbols(ctx: KapiContext, caches: CacheRegistry): DataSymbol[] {
  const u64var = (name: string, value: () => bigint, moving = false): DataSymbol => ({
    name,
    size: 8,
    init: (mem, addr) => writeUint(mem, addr, 8, value()),
    ...(moving ? { sync: (mem: GuestMemory, addr: bigint) => writeUint(mem, addr, 8, value()) } : {}),
  })
  return [
    u64var('jiffies', () => jiffies(ctx.clock), true),
    u64var('jiffies_64', () => jiffies(ctx.clock), true),
    u64var('page_offset_base', () => 0xffff888000000000n),
    u64var('vmalloc_base', () => 0xffffc90000000000n),
    u64var('vmemmap_base', () => 0xffffea0000000000n),
    { name: '_ctype', size: 256, init: (mem, addr) => mem.write(addr, CTYPE) },
    {
      name: 'kmalloc_caches',
      // the table's caches are created when a module first names it, not with every kernel
      size: KMALLOC_TYPES * KMALLOC_INDEXES * 8,
      init: (mem, addr) => caches.kmallocCaches().forEach((c, i) => writeUint(mem, addr + BigInt(i * 8), 8, c)),
    },
  ]
}
