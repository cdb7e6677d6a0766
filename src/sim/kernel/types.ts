import type { KernelLogRecord } from '../../backends/types.js'

/**
 * A module described by hand: what its init and exit do and what each exported function does.
 * Embedded in a synthetic `.ko` by `defineModule` (section `.kmodspec.behaviour`, JSON), or given
 * as an override by module name. A real module's behaviour is its own machine code, run on the
 * simulated CPU (src/sim/kernel/machine.ts).
 */
export type BehaviourAction =
  /** printk with the format exactly as in the binary, KERN_ prefix included (e.g. "\u00016[x] hi\n"). */
  | { print: string }
  /** Call a function by symbol name (an export of another module or of this one). */
  | {
      call: string
      /**
       * The call's first argument when it is a known string, e.g. the symbol name that
       * `symbol_get(x)` passes to `__symbol_get`. Optional: absent when unknown.
       */
      arg?: string
    }

export interface ModuleBehaviour {
  /** Absent when the module has no init function. */
  init?: { actions: BehaviourAction[]; /** 0 or a negative errno. */ returns: number }
  exit?: { actions: BehaviourAction[] }
  /** Exported (or local) functions by name. */
  functions: Record<string, BehaviourAction[]>
}

/** Linux errno numbers (asm-generic/errno-base.h, errno.h): the one table for the simulator and the DSL. */
export const errno = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EIO: 5, ENXIO: 6, ENOEXEC: 8, EAGAIN: 11, EWOULDBLOCK: 11, ENOMEM: 12,
  EACCES: 13, EFAULT: 14, EBUSY: 16, EEXIST: 17, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22,
  ENOSPC: 28, ERANGE: 34, ENOSYS: 38, ENOTEMPTY: 39, ENOPKG: 65, EBADMSG: 74, EOPNOTSUPP: 95,
  ETIMEDOUT: 110, ENOKEY: 126, EKEYREJECTED: 129,
} as const

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
