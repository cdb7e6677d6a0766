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
  m.map(opts.base, size, 'rw')
  cpu.gsBase = opts.base
  m.writeU64(opts.base + 0x28n, opts.canary)
  m.writeU32(opts.base + BigInt(PERCPU_OFFSETS.cpu_number), 0)
  m.writeU64(opts.base + BigInt(PERCPU_OFFSETS.this_cpu_off), opts.base)
  m.writeU32(opts.base + BigInt(PERCPU_OFFSETS.__preempt_count), PREEMPT_ENABLED)
  m.writeU64(opts.base + BigInt(PERCPU_OFFSETS.current_task), opts.current)
  return new Map(Object.entries(PERCPU_OFFSETS).map(([k, v]) => [k, BigInt(v)]))
}
