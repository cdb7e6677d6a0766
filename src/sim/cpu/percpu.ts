// The per-CPU area of the one simulated CPU, reached through %gs, with the per-CPU variables
// module code reads directly (not through a kernel function).
import type { Cpu } from './cpu.js'
import { PAGE_SIZE } from './memory.js'

/**
 * Per-CPU offsets of the variables below. Only consistency between the relocations and the area
 * matters to the guest; the 6.1.0-56 kernel's own offsets (in /proc/kallsyms) are not needed.
 * fixed_percpu_data must be at 0: the stack canary is read as %gs:0x28.
 */
export const PERCPU_OFFSETS = {
  fixed_percpu_data: 0x0,
  cpu_number: 0x100,
  this_cpu_off: 0x108,
  __preempt_count: 0x110,
  current_task: 0x118,
} as const satisfies Readonly<Record<string, number>>

/** x86's preempt_count in a preemptible task context: PREEMPT_NEED_RESCHED is kept inverted. */
const PREEMPT_ENABLED = 0x80000000

export interface PerCpuOptions {
  /** Address of the area (its first byte is %gs:0). */
  base: bigint
  /** Bytes to map (page multiple; room for the module's own per-CPU sections if the loader puts them here). */
  size?: number
  /** The task_struct address `current` reads. */
  current: bigint
  /** The stack canary at %gs:0x28. */
  canary: bigint
}

/**
 * Maps the per-CPU area, points %gs at it and fills the variables module code reads inline. Returns
 * the values to resolve those symbols to (their per-CPU offsets, as the kernel's relocations use them).
 *
 * @example
 * const syms = setupPerCpu(cpu, { base: 0xffff88803ec00000n, current: task, canary: 0x1234n })
 * resolve('current_task') === syms.get('current_task') // 0x118n
 */
export function setupPerCpu(cpu: Cpu, opts: PerCpuOptions): Map<string, bigint> {
  const size = opts.size ?? 4 * PAGE_SIZE
  const m = cpu.memory
  // The first page holds the variables, the same bytes on every kernel: mapped from one shared copy (each
  // kernel's own copy is made when its code first writes there); the rest of the area reads as zeros.
  m.mapBytes(opts.base, firstPage(opts), 'rw')
  if (size > PAGE_SIZE) m.map(opts.base + BigInt(PAGE_SIZE), size - PAGE_SIZE, 'rw')
  cpu.gsBase = opts.base
  return new Map(OFFSETS)
}

const OFFSETS: Array<[string, bigint]> = Object.entries(PERCPU_OFFSETS).map(([k, v]) => [k, BigInt(v)])

/** The per-CPU area's first page for these options (kept: the simulator's kernels all use the same ones). */
const firstPages = new Map<string, Uint8Array>()
function firstPage(opts: PerCpuOptions): Uint8Array {
  const key = `${opts.base}:${opts.current}:${opts.canary}`
  let page = firstPages.get(key)
  if (!page) {
    page = new Uint8Array(PAGE_SIZE)
    const v = new DataView(page.buffer)
    v.setBigUint64(0x28, BigInt.asUintN(64, opts.canary), true)
    v.setUint32(PERCPU_OFFSETS.cpu_number, 0, true)
    v.setBigUint64(PERCPU_OFFSETS.this_cpu_off, BigInt.asUintN(64, opts.base), true)
    v.setUint32(PERCPU_OFFSETS.__preempt_count, PREEMPT_ENABLED, true)
    v.setBigUint64(PERCPU_OFFSETS.current_task, BigInt.asUintN(64, opts.current), true)
    firstPages.set(key, page)
  }
  return page
}
