import type { KernelLogRecord } from '../../contract/backend.js'

// defineModule()'s model of a module is an ELF-level fact (elf/ embeds and reads it); re-exported for the loader.
export type { BehaviourAction, ModuleBehaviour } from '../../elf/types.js'

/** errno numbers by name: the contract's one table, re-exported for the simulator. */
export { errno } from '../../contract/errno.js'

/** flags of finit_module(2). */
export const MODULE_INIT_IGNORE_MODVERSIONS = 1
export const MODULE_INIT_IGNORE_VERMAGIC = 2
/** flags of delete_module(2). */
export const O_NONBLOCK = 0o4000
export const O_TRUNC = 0o1000

/**
 * The simulated kernel's syscall surface. Tools (src/sim/tools) reach the kernel only
 * through this, exactly as kmod reaches a real kernel, and turn the errno into kmod's text.
 * Every call returns 0 or a negative errno, like the raw syscall.
 */
export interface SimKernel {
  readonly release: string
  initModule(image: Uint8Array, params: string): number
  finitModule(image: Uint8Array, params: string, flags: number): number
  deleteModule(name: string, flags: number): number
  /** Text of a file under /proc or /sys, or undefined when it does not exist. */
  readFile(path: string): string | undefined
  /** Write to a writable file under /sys (module parameters with mode 0644...). 0 or -errno. */
  writeFile(path: string, data: string): number
  /** Entries of a directory under /proc or /sys, or undefined when it does not exist. */
  listDir(path: string): string[] | undefined
  /** The printk ring buffer. */
  readonly log: {
    /** Records with seq >= from, oldest first. */
    since(from: number): KernelLogRecord[]
    /** The seq the next record will get. */
    nextSeq(): number
    /** The virtual monotonic clock, in microseconds since boot (what the next record's timestamp starts from). */
    now(): number
    /** dmesg -C: clear what `dmesg` shows (not /dev/kmsg sequence numbers). */
    clear(): void
    /** What `dmesg` would show now, oldest first. */
    visible(): KernelLogRecord[]
  }
  /** Advance the virtual monotonic clock (a real syscall takes time too). */
  tick(us: number): void
  /**
   * Caveats gathered since the last call about how faithfully modules were simulated (e.g. a
   * behaviour derived from code that branches). A real kernel has none; they are never printed as its output.
   */
  takeNotes(): string[]
}
