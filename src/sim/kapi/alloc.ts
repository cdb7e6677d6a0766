// kmalloc & co., vmalloc & co. and kmem_cache_* as the module calls them (mm/slab_common.c,
// mm/util.c, mm/vmalloc.c of 6.1). The inline wrappers (kzalloc, kcalloc, kmalloc_array,
// kvzalloc, kmem_cache_zalloc) compile to these in the module.
import type { CallArgs, KernelFunction } from '../cpu/types.js'
import { note, type KapiContext } from './context.js'
import { readCString, readUint, u32 } from './guest.js'
import { KMALLOC_SIZES, KernelBug, VMALLOC_BASE, ZERO_SIZE_PTR } from './heap.js'

/** NR_KMALLOC_TYPES x (KMALLOC_SHIFT_HIGH + 1) on Debian's 6.1 (NORMAL, CGROUP, RECLAIM, DMA x 14). */
export const KMALLOC_TYPES = 4
export const KMALLOC_INDEXES = 14

/** kmalloc_caches[type][index]'s object size: index 1 and 2 are the 96 and 192 caches, n is 2^n. */
export function kmallocIndexSize(index: number): number {
  return index === 1 ? 96 : index === 2 ? 192 : 2 ** index
}

interface Cache {
  name: string
  size: number
  ctor: bigint
}

/** The kmem_caches of a simulated kernel: guest addresses that stand for struct kmem_cache. */
export class CacheRegistry {
  readonly caches = new Map<bigint, Cache>()
  private kmallocTable: bigint[] | undefined

  constructor(private readonly ctx: KapiContext) {}

  create(name: string, size: number, ctor: bigint): bigint {
    // The descriptor itself is a small kernel object; modules only pass its address around.
    const addr = this.ctx.heap.kmalloc(256, 'kmem_cache_create')
    this.caches.set(addr, { name, size, ctor })
    return addr
  }

  /** kmalloc_caches as a flat [type][index] table of cache addresses (created on first use). */
  kmallocCaches(): bigint[] {
    if (!this.kmallocTable) {
      this.kmallocTable = []
      const names = ['kmalloc', 'kmalloc-cg', 'kmalloc-rcl', 'dma-kmalloc']
      for (let t = 0; t < KMALLOC_TYPES; t++) {
        for (let i = 0; i < KMALLOC_INDEXES; i++) {
          const size = kmallocIndexSize(i)
          this.kmallocTable.push(i === 0 ? 0n : this.create(`${names[t]}-${size >= 1024 ? `${size / 1024}k` : size}`, size, 0n))
        }
      }
    }
    return this.kmallocTable
  }
}

/**
 * The allocation functions, bound to a context's heap.
 * @example const fns = allocFunctions(ctx); fns.__kmalloc(call) // call.arg(0) = size
 */
export function allocFunctions(ctx: KapiContext, caches = new CacheRegistry(ctx)): Record<string, KernelFunction> {
  const heap = ctx.heap
  const size = (call: CallArgs, i: number): number => Number(call.arg(i))
  const free = (addr: bigint, fn: string): void => {
    const warning = heap.free(addr, fn)
    if (warning) note(ctx, warning)
  }
  const kmalloc = (n: number, fn: string): bigint => heap.kmalloc(n, fn)
  const fromCache = (s: bigint, fn: string): bigint => {
    const c = caches.caches.get(s)
    if (!c) throw new KernelBug('BUG: unable to handle page fault', 'bug', `${fn}(0x${s.toString(16)}): not a kmem_cache of the simulator`)
    if (c.ctor !== 0n) note(ctx, `${fn}: the constructor of kmem_cache '${c.name}' is not run by the simulator (objects start zeroed)`)
    return heap.kmalloc(c.size, fn, s, c.size)
  }
  const dup = (src: bigint, len: number, fn: string, nul: boolean): bigint => {
    const bytes = len === 0 ? new Uint8Array(0) : ctx.memory.read(src, len)
    const p = kmalloc(len + (nul ? 1 : 0), fn)
    if (p === 0n || p === ZERO_SIZE_PTR) return p
    ctx.memory.write(p, bytes)
    if (nul) ctx.memory.write(p + BigInt(len), new Uint8Array(1))
    return p
  }
  const isVmalloc = (p: bigint): boolean => p >= VMALLOC_BASE && p < VMALLOC_BASE + (1n << 45n)
  const krealloc: KernelFunction = (call) => {
    const p = call.arg(0)
    const n = size(call, 1)
    if (n === 0) {
      free(p, 'krealloc')
      return ZERO_SIZE_PTR
    }
    const old = p === 0n || p === ZERO_SIZE_PTR ? undefined : heap.get(p)
    const ks = old ? old.objectSize : 0
    if (ks >= n) return p
    const q = kmalloc(n, 'krealloc')
    if (q !== 0n && old) {
      ctx.memory.write(q, ctx.memory.read(p, ks))
      free(p, 'krealloc')
    }
    return q
  }
  return {
    // kmalloc(size) with a constant size: kmalloc_trace(kmalloc_caches[type][index], flags, size).
    kmalloc_trace: (call) => kmalloc(size(call, 2), 'kmalloc'),
    kmalloc_node_trace: (call) => kmalloc(size(call, 3), 'kmalloc_node'),
    // 6.10+ (memory allocation profiling) exports the allocators as *_noprof; same arguments as above.
    __kmalloc_cache_noprof: (call) => kmalloc(size(call, 2), 'kmalloc'),
    __kmalloc_cache_node_noprof: (call) => kmalloc(size(call, 3), 'kmalloc_node'),
    __kmalloc_noprof: (call) => kmalloc(size(call, 0), '__kmalloc'),
    __kmalloc_node_noprof: (call) => kmalloc(size(call, 0), '__kmalloc_node'),
    __kmalloc_node_track_caller_noprof: (call) => kmalloc(size(call, 0), '__kmalloc_node_track_caller'),
    __kmalloc_large_noprof: (call) => kmalloc(size(call, 0), 'kmalloc_large'),
    __kmalloc_large_node_noprof: (call) => kmalloc(size(call, 0), 'kmalloc_large_node'),
    krealloc_noprof: krealloc,
    kmemdup_noprof: (call) => dup(call.arg(0), size(call, 1), 'kmemdup', false),
    vmalloc_noprof: (call) => heap.vmalloc(size(call, 0), 'vmalloc'),
    vzalloc_noprof: (call) => heap.vmalloc(size(call, 0), 'vzalloc'),
    __vmalloc_noprof: (call) => heap.vmalloc(size(call, 0), '__vmalloc'),
    __kmalloc: (call) => kmalloc(size(call, 0), '__kmalloc'),
    __kmalloc_node: (call) => kmalloc(size(call, 0), '__kmalloc_node'),
    __kmalloc_node_track_caller: (call) => kmalloc(size(call, 0), '__kmalloc_node_track_caller'),
    kmalloc_large: (call) => kmalloc(size(call, 0), 'kmalloc_large'),
    kmalloc_large_node: (call) => kmalloc(size(call, 0), 'kmalloc_large_node'),
    krealloc,
    kfree: (call) => free(call.arg(0), 'kfree'),
    kfree_sensitive: (call) => free(call.arg(0), 'kfree_sensitive'),
    kfree_const: (call) => free(call.arg(0), 'kfree_const'),
    ksize: (call) => heap.get(call.arg(0))?.objectSize ?? 0,
    kmalloc_size_roundup: (call) => KMALLOC_SIZES.find((s) => s >= size(call, 0)) ?? size(call, 0),
    kmemdup: (call) => dup(call.arg(0), size(call, 1), 'kmemdup', false),
    kmemdup_nul: (call) => (call.arg(0) === 0n ? 0n : dup(call.arg(0), size(call, 1), 'kmemdup_nul', true)),
    kstrdup: (call) => (call.arg(0) === 0n ? 0n : dup(call.arg(0), readCString(ctx.memory, call.arg(0)).length, 'kstrdup', true)),
    // Module strings are not in vmlinux's .rodata, so kstrdup_const copies them.
    kstrdup_const: (call) => (call.arg(0) === 0n ? 0n : dup(call.arg(0), readCString(ctx.memory, call.arg(0)).length, 'kstrdup_const', true)),
    kstrndup: (call) => (call.arg(0) === 0n ? 0n : dup(call.arg(0), readCString(ctx.memory, call.arg(0), size(call, 1)).length, 'kstrndup', true)),
    vmalloc: (call) => heap.vmalloc(size(call, 0), 'vmalloc'),
    vzalloc: (call) => heap.vmalloc(size(call, 0), 'vzalloc'),
    vmalloc_node: (call) => heap.vmalloc(size(call, 0), 'vmalloc_node'),
    vzalloc_node: (call) => heap.vmalloc(size(call, 0), 'vzalloc_node'),
    __vmalloc: (call) => heap.vmalloc(size(call, 0), '__vmalloc'),
    vmalloc_user: (call) => heap.vmalloc(size(call, 0), 'vmalloc_user'),
    vfree: (call) => free(call.arg(0), 'vfree'),
    // kvmalloc tries kmalloc first, which succeeds in the simulator unless a test makes it fail.
    kvmalloc_node: (call) => {
      const n = size(call, 0)
      const p = kmalloc(n, 'kvmalloc')
      return p !== 0n || n <= 4096 ? p : heap.vmalloc(n, 'kvmalloc')
    },
    kvfree: (call) => free(call.arg(0), isVmalloc(call.arg(0)) ? 'vfree' : 'kvfree'),
    kvfree_sensitive: (call) => free(call.arg(0), isVmalloc(call.arg(0)) ? 'vfree' : 'kvfree'),
    is_vmalloc_addr: (call) => (isVmalloc(call.arg(0)) ? 1 : 0),
    kmem_cache_create: (call) => caches.create(new TextDecoder().decode(readCString(ctx.memory, call.arg(0))), u32(call.arg(1)), call.arg(4)),
    // 6.12: kmem_cache_create() is a macro over __kmem_cache_create_args(name, size, args, flags); args->ctor is at 24.
    __kmem_cache_create_args: (call) =>
      caches.create(
        new TextDecoder().decode(readCString(ctx.memory, call.arg(0))),
        u32(call.arg(1)),
        call.arg(2) === 0n ? 0n : readUint(ctx.memory, call.arg(2) + 24n, 8),
      ),
    kmem_cache_create_usercopy: (call) => caches.create(new TextDecoder().decode(readCString(ctx.memory, call.arg(0))), u32(call.arg(1)), call.arg(6)),
    kmem_cache_alloc: (call) => fromCache(call.arg(0), 'kmem_cache_alloc'),
    kmem_cache_alloc_lru: (call) => fromCache(call.arg(0), 'kmem_cache_alloc_lru'),
    kmem_cache_alloc_node: (call) => fromCache(call.arg(0), 'kmem_cache_alloc_node'),
    kmem_cache_free: (call) => free(call.arg(1), 'kmem_cache_free'),
    kmem_cache_size: (call) => caches.caches.get(call.arg(0))?.size ?? 0,
    kmem_cache_destroy: (call) => {
      const s = call.arg(0)
      if (s === 0n) return
      const c = caches.caches.get(s)
      const left = heap.allocations().filter((a) => a.cache === s)
      if (c && left.length > 0) {
        // The kernel reports this with SLUB's "Objects remaining" report and a WARN backtrace.
        note(
          ctx,
          `kmem_cache_destroy(${c.name}) with ${left.length} live object(s): the kernel prints SLUB's "Objects remaining" report and a WARNING the simulator does not reproduce`,
        )
        return
      }
      caches.caches.delete(s)
      free(s, 'kfree')
    },
  }
}
