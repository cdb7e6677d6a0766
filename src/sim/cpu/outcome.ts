// How a call on the simulated CPU ends: the types the kernel turns into its reports.
import type { REG_NAMES } from './host.js'
import type { GuestFaultInfo } from './types.js'

/** General registers, rip and rflags at the moment a call stopped. */
export type Registers = Record<(typeof REG_NAMES)[number] | 'rip' | 'eflags', bigint>

/** Where the CPU stood when a call did not return normally. */
export interface StopState {
  /** Address of the instruction that stopped the run (for a host function: its address). */
  rip: bigint
  regs: Registers
  /** Return addresses of the active calls of this `call`, innermost first (from a shadow call stack). */
  backtrace: bigint[]
  /**
   * Entry addresses of the active functions, innermost first, ending with the function `call` was
   * given: backtrace[i] is where callees[i] returns to (so there is one more callee than return address).
   */
  callees: bigint[]
  /** Instructions this call executed (rep iterations count one each). */
  instructions: number
}

/** How a call ended. */
export type CallResult =
  | { kind: 'returned'; value: bigint; instructions: number }
  | ({ kind: 'fault'; fault: GuestFaultInfo } & StopState)
  | ({ kind: 'stack-overflow'; fault: GuestFaultInfo } & StopState)
  | ({ kind: 'budget' } & StopState)
  | ({ kind: 'trap'; trap: TrapKind; detail?: string } & StopState)
  | ({ kind: 'stopped'; reason: string; detail?: unknown } & StopState)
  | ({ kind: 'host-error'; error: unknown } & StopState)
  /** A bug in the simulated CPU itself (an exception inside the interpreter): never thrown through. */
  | ({ kind: 'cpu-error'; error: unknown } & StopState)

/**
 * ud2 (BUG/WARN: the kernel's __bug_table decides), int3, divide error (#DE), hlt, int n,
 * an unknown opcode (#UD), or a known instruction the simulator does not execute
 * ('unsupported': vector/FPU or privileged; `detail` names it).
 */
export type TrapKind = 'ud2' | 'int3' | 'divide-error' | 'hlt' | 'int' | 'invalid-opcode' | 'unsupported'
