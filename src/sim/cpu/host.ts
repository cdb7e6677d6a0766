// Host functions: TypeScript code bound to guest addresses, called with the SysV AMD64 ABI.
import type { CallArgs, KernelFunction, VaList } from './types.js'
import type { SparseMemory } from './memory.js'

/** What runs when the guest reaches a host address. */
export type HostEntry =
  | { kind: 'fn'; name: string; fn: KernelFunction }
  /** `ret`: __x86_return_thunk, __fentry__ (ftrace disabled, as after module load). */
  | { kind: 'ret'; name: string }
  /** `jmp *%reg`: a retpoline thunk __x86_indirect_thunk_<reg>. */
  | { kind: 'jmp'; name: string; reg: number }
  /** The return address of an outermost `Cpu.call`: the run stops here. */
  | { kind: 'exit'; name: string }
  /** Ends the call as `stopped` with `reason`; `detail.caller` is the return address (the call site). */
  | { kind: 'stop'; name: string; reason: string }

const SCHED_CALLS = new Set(['__SCT__might_resched', '__SCT__cond_resched', '__SCT__preempt_schedule', '__SCT__preempt_schedule_notrace'])

/** Register numbers in encoding order. */
export const REG_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const

/**
 * The built-in behaviour of a kernel thunk by symbol name, or undefined for anything else.
 * These are what the kernel runs after boot-time patching of a module's calls:
 * return thunks and `__fentry__` return at once, retpolines jump through their register,
 * `__stack_chk_fail` stops the call ('stack-protector'), the scheduling static calls return 0.
 *
 * @example kernelThunk('__x86_indirect_thunk_rax') // { kind: 'jmp', name, reg: 0 }
 */
export function kernelThunk(name: string): HostEntry | undefined {
  if (name === '__x86_return_thunk' || name === '__fentry__' || name === 'zen_untrain_ret' || name === '__x86_return_skl') return { kind: 'ret', name }
  // The stack protector's panic("stack-protector: Kernel stack is corrupted in: %pB") is the kernel's to print.
  if (name === '__stack_chk_fail') return { kind: 'stop', name, reason: 'stack-protector' }
  // Scheduling points: one simulated task, nothing else to run, so they return at once (cond_resched: 0).
  if (SCHED_CALLS.has(name)) return { kind: 'fn', name, fn: () => 0 }
  const m = /^__x86_indirect_(?:jump_|call_)?thunk_(r\w+)$/.exec(name)
  if (m) {
    const reg = REG_NAMES.indexOf(m[1] as (typeof REG_NAMES)[number])
    if (reg >= 0 && reg !== 4) return { kind: 'jmp', name, reg }
  }
  return undefined
}

/** Reads of the CPU state a host call needs (kept narrow so CallArgs cannot change registers). */
export interface ArgSource {
  readonly memory: SparseMemory
  /** Integer register value (unsigned 64-bit). */
  regValue(n: number): bigint
}

const ARG_REGS = [7, 6, 2, 1, 8, 9] // rdi rsi rdx rcx r8 r9

/**
 * SysV arguments of a host call made with `rsp` pointing at the return address.
 *
 * @example const a = sysvArgs(cpu, rsp); a.arg(0) // %rdi
 */
export function sysvArgs(src: ArgSource, rsp: bigint): CallArgs {
  const arg = (i: number): bigint => {
    if (!Number.isInteger(i) || i < 0) throw new RangeError(`argument index ${i} is not a non-negative integer`)
    if (i < 6) return src.regValue(ARG_REGS[i]!)
    return src.memory.readU64(BigInt.asUintN(64, rsp + 8n + 8n * BigInt(i - 6)))
  }
  return {
    arg,
    varargs(from: number): VaList {
      let i = from
      return { next: () => arg(i++) }
    },
    memory: src.memory,
  }
}

/**
 * A VaList over a C `va_list` in guest memory (`struct { u32 gp_offset; u32 fp_offset;
 * void *overflow_arg_area; void *reg_save_area; }`), for vprintk/vsnprintf(fmt, va_list).
 * Like `va_arg`, it advances the guest's struct as it reads. Only integer arguments are read
 * (kernel code has no floating point).
 *
 * @example const ap = guestVaList(mem, cpu.args().arg(1)); ap.next()
 */
export function guestVaList(memory: SparseMemory, vaList: bigint): VaList {
  return {
    next(): bigint {
      const gp = memory.readU32(vaList)
      if (gp < 48) {
        const save = memory.readU64(vaList + 16n)
        const v = memory.readU64(BigInt.asUintN(64, save + BigInt(gp)))
        memory.writeU32(vaList, gp + 8)
        return v
      }
      const over = memory.readU64(vaList + 8n)
      const v = memory.readU64(over)
      memory.writeU64(vaList + 8n, BigInt.asUintN(64, over + 8n))
      return v
    },
  }
}

/**
 * Thrown by a host function to end the current `Cpu.call` on purpose (panic(), a BUG in a
 * kernel function, do_exit): the call reports `{ kind: 'stopped', reason }`.
 *
 * @example throw new HostStop('panic', { message: 'Kernel panic - not syncing: ...' })
 */
export class HostStop extends Error {
  constructor(
    readonly reason: string,
    readonly detail?: unknown,
  ) {
    super(`guest stopped by host function: ${reason}`)
    this.name = 'HostStop'
  }
}
