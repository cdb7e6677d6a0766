// Dynamic per-CPU memory (mm/percpu.c) on the simulator's one CPU: the pointer is an offset from the
// %gs base, so this_cpu_ptr(p) and per_cpu_ptr(p, 0) land on a zeroed heap object.
import type { KernelFunction } from '../cpu/types.js'
import { note, type KapiContext } from './context.js'

/**
 * @example percpuFunctions(ctx, 0xffff88800ee00000n).__alloc_percpu(call) // offset of a zeroed object from the per-CPU base
 */
export function percpuFunctions(ctx: KapiContext, base: bigint): Record<string, KernelFunction> {
  const alloc = (size: bigint) => BigInt.asUintN(64, ctx.heap.kmalloc(Math.max(1, Number(size)), '__alloc_percpu') - base)
  return {
    __alloc_percpu: (c) => alloc(c.arg(0)),
    __alloc_percpu_gfp: (c) => alloc(c.arg(0)),
    free_percpu: (c) => {
      if (c.arg(0) === 0n) return
      const warning = ctx.heap.free(BigInt.asUintN(64, c.arg(0) + base), 'kfree')
      if (warning) note(ctx, warning)
    },
  }
}
