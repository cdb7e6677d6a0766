// A deterministic kernel heap: kmalloc in the direct map, vmalloc in the vmalloc range. Each object
// gets its own pages, never reused, so an access after kfree/vfree faults (the CPU's oops).
import type { GuestMemory } from '../cpu/types.js'

/** Start of the simulator's kmalloc objects inside the direct map (page_offset_base 0xffff888000000000). */
export const KMALLOC_BASE = 0xffff888100000000n
/** VMALLOC_START on x86-64 with 4-level paging. */
export const VMALLOC_BASE = 0xffffc90000000000n
/** include/linux/slab.h: what kmalloc(0) returns; dereferencing it faults, kfree accepts it. */
export const ZERO_SIZE_PTR = 0x10n
/** KMALLOC_MAX_CACHE_SIZE (PAGE_SIZE << 1): bigger requests go to the page allocator. */
export const KMALLOC_MAX_CACHE_SIZE = 8192
const PAGE = 4096

/** The SLUB kmalloc size classes of x86-64 (KMALLOC_MIN_SIZE 8, the 96 and 192 caches). */
export const KMALLOC_SIZES = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192]

/** The slab object size a kmalloc of `size` bytes uses; pages rounded for bigger ones. */
export function kmallocSize(size: number): number {
  if (size > KMALLOC_MAX_CACHE_SIZE) return 2 ** Math.ceil(Math.log2(Math.ceil(size / PAGE))) * PAGE
  return KMALLOC_SIZES.find((s) => s >= size)!
}

/** Which slab freelist an object goes back to: its kmem_cache, or the kmalloc cache of its size. */
const slabKey = (cache: bigint | undefined, size: number): string => (cache === undefined ? `kmalloc-${size}` : `cache-${cache}`)

/** A kernel-detected heap error: the CPU turns it into the kernel's report (an oops). */
export class KernelBug extends Error {
  constructor(
    /** The first line of the kernel's report, e.g. "kernel BUG at mm/slub.c:419!". */
    readonly line: string,
    /** 'bug': an oops-style report; 'warning': a WARN; 'hang': the task or CPU would never come back; 'panic'. */
    readonly kind: 'bug' | 'warning' | 'hang' | 'panic',
    readonly detail: string,
  ) {
    super(`${line} (${detail})`)
    this.name = 'KernelBug'
  }
}

export interface Allocation {
  addr: bigint
  /** The size the caller asked for. */
  size: number
  /** The slab object size (ksize) or the mapped bytes for vmalloc / large kmalloc. */
  objectSize: number
  kind: 'kmalloc' | 'vmalloc' | 'cache'
  /** The kmem_cache it came from (kmem_cache_alloc), as the guest address of the cache. */
  cache?: bigint
}

/** Options of {@link KernelHeap}. */
export interface HeapOptions {
  kmallocBase?: bigint
  vmallocBase?: bigint
  /** Returns true for an allocation that must fail (NULL), e.g. to test a module's error path. */
  fail?: (request: { fn: string; size: number }) => boolean
}

/**
 * kmalloc/vmalloc with addresses that depend only on the order of calls. Fresh memory is zero,
 * as on Debian's kernel (CONFIG_INIT_ON_ALLOC_DEFAULT_ON=y), so kmalloc and kzalloc read the same.
 *
 * @example
 * const heap = new KernelHeap(mem)
 * const p = heap.kmalloc(100, 'kmalloc') // 0xffff888100000000n, ksize 128
 * heap.free(p, 'kfree')                  // later reads of p fault
 */
export class KernelHeap {
  private readonly live = new Map<bigint, Allocation>()
  private readonly freed = new Map<bigint, Allocation>()
  /** Per slab cache: the object freed last with nothing allocated from it since (SLUB's freelist head). */
  private readonly freelistHead = new Map<string, bigint>()
  private nextKmalloc: bigint
  private nextVmalloc: bigint

  constructor(
    private readonly mem: GuestMemory,
    private readonly options: HeapOptions = {},
  ) {
    this.nextKmalloc = options.kmallocBase ?? KMALLOC_BASE
    this.nextVmalloc = options.vmallocBase ?? VMALLOC_BASE
  }

  /** A slab (or large) allocation of `size` bytes; 0n when it fails, ZERO_SIZE_PTR for 0 bytes. */
  kmalloc(size: number, fn: string, cache?: bigint, objectSize?: number): bigint {
    if (size === 0 && cache === undefined) return ZERO_SIZE_PTR
    if (this.options.fail?.({ fn, size })) return 0n
    const obj = objectSize ?? kmallocSize(size)
    const len = Math.ceil(Math.max(obj, 1) / PAGE) * PAGE
    const addr = this.nextKmalloc
    this.nextKmalloc += BigInt(len)
    this.mem.map(addr, len, 'rw')
    this.freelistHead.delete(slabKey(cache, obj))
    this.live.set(addr, { addr, size, objectSize: obj, kind: cache === undefined ? 'kmalloc' : 'cache', cache })
    return addr
  }

  /** vmalloc: whole pages, followed by an unmapped guard page as in the kernel. */
  vmalloc(size: number, fn: string): bigint {
    if (size === 0 || this.options.fail?.({ fn, size })) return 0n
    const len = Math.ceil(size / PAGE) * PAGE
    const addr = this.nextVmalloc
    this.nextVmalloc += BigInt(len + PAGE)
    this.mem.map(addr, len, 'rw')
    this.live.set(addr, { addr, size, objectSize: len, kind: 'vmalloc' })
    return addr
  }

  /** The live allocation that starts at `addr`. */
  get(addr: bigint): Allocation | undefined {
    return this.live.get(addr)
  }

  /** Whether `addr` was handed out and freed (for an oops report's use-after-free hint). */
  wasFreed(addr: bigint): Allocation | undefined {
    for (const a of this.freed.values()) if (addr >= a.addr && addr < a.addr + BigInt(a.objectSize)) return a
    return undefined
  }

  /**
   * kfree / vfree / kmem_cache_free: unmaps the object. Returns a note for what the real kernel
   * would not notice, throws KernelBug for what it reports.
   */
  free(addr: bigint, fn: string): string | undefined {
    if (addr === 0n || (addr === ZERO_SIZE_PTR && fn !== 'vfree')) return undefined
    const a = this.live.get(addr)
    if (!a) {
      const old = this.freed.get(addr)
      if (old && fn === 'vfree') {
        throw new KernelBug('WARNING: Trying to vfree() nonexistent vm area', 'warning', `${fn}(0x${addr.toString(16)}) twice`)
      }
      if (old && old.kind !== 'vmalloc' && old.objectSize <= KMALLOC_MAX_CACHE_SIZE && this.freelistHead.get(slabKey(old.cache, old.objectSize)) === addr) {
        // SLUB with CONFIG_SLAB_FREELIST_HARDENED: set_freepointer's BUG_ON(object == fp).
        throw new KernelBug('kernel BUG at mm/slub.c:419!', 'bug', `${fn}(0x${addr.toString(16)}): double free of the object freed last`)
      }
      if (old) return `${fn}(0x${addr.toString(16)}): double free; the real kernel does not notice one that is not immediate and corrupts its freelist`
      return `${fn}(0x${addr.toString(16)}): not an address the simulator's heap handed out; the real kernel's behaviour depends on what lies there`
    }
    if ((fn === 'vfree') !== (a.kind === 'vmalloc') && fn !== 'kvfree') {
      return `${fn}(0x${addr.toString(16)}) of memory from ${a.kind === 'vmalloc' ? 'vmalloc' : 'kmalloc'}: the real kernel misbehaves here`
    }
    this.live.delete(addr)
    this.freed.set(addr, a)
    if (a.kind !== 'vmalloc') this.freelistHead.set(slabKey(a.cache, a.objectSize), addr)
    this.mem.unmap(addr, Math.ceil(Math.max(a.objectSize, 1) / PAGE) * PAGE)
    return undefined
  }

  /** Live allocations, oldest first (what a module leaked when it unloads). */
  allocations(): Allocation[] {
    return [...this.live.values()]
  }
}
