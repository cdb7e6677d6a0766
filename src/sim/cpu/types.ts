// The contract between the simulated CPU (src/sim/cpu) and the kernel functions a module calls
// (src/sim/kapi). Both sides code against these types only.

/** Page protection of a guest mapping. */
export type GuestProt = 'r' | 'rw' | 'rx' | 'rwx'

/** Why a guest access failed; the kernel's oops report is written from this. */
export interface GuestFaultInfo {
  /** The faulting virtual address. */
  address: bigint
  /** What was attempted. */
  access: 'read' | 'write' | 'exec'
  /** Nothing is mapped there ('not-present'), or the mapping forbids the access ('protection'). */
  reason: 'not-present' | 'protection'
}

/** Thrown by GuestMemory on a bad access; the CPU turns it into a page fault (an oops report). */
export class GuestFault extends Error {
  constructor(readonly info: GuestFaultInfo) {
    super(`guest ${info.access} fault at 0x${info.address.toString(16)} (${info.reason})`)
    this.name = 'GuestFault'
  }
}

/**
 * The simulated kernel's virtual memory: sparse pages with protections. Addresses are the
 * kernel's own (e.g. 0xffffffffc0000000 for modules, 0xffff888000000000 for kmalloc).
 */
export interface GuestMemory {
  /** Copies `len` bytes out. @throws GuestFault when any byte is unmapped or unreadable. */
  read(addr: bigint, len: number): Uint8Array
  /** Copies bytes in. @throws GuestFault when any byte is unmapped or read-only. */
  write(addr: bigint, data: Uint8Array): void
  /** Maps zeroed pages covering [addr, addr+len) with `prot` (page-granular). */
  map(addr: bigint, len: number, prot: GuestProt): void
  /** Unmaps the pages covering [addr, addr+len): later accesses fault as 'not-present'. */
  unmap(addr: bigint, len: number): void
  /** Changes the protection of mapped pages covering [addr, addr+len). */
  protect(addr: bigint, len: number, prot: GuestProt): void
}

/** A C `va_list` (or the variadic tail of a call): the integer arguments in order. */
export interface VaList {
  /** The next integer/pointer argument as an unsigned 64-bit value. */
  next(): bigint
}

/** What a kernel function implemented in TypeScript sees of its call (SysV AMD64 ABI). */
export interface CallArgs {
  /** The i-th integer argument (rdi, rsi, rdx, rcx, r8, r9, then the stack), unsigned 64-bit. */
  arg(i: number): bigint
  /** A VaList over the integer arguments from index `from` on (printk-style varargs). */
  varargs(from: number): VaList
  readonly memory: GuestMemory
}

/** A kernel function: returns the value for %rax (undefined: 0). */
export type KernelFunction = (call: CallArgs) => bigint | number | void
