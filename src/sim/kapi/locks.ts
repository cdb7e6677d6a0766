// Locks on one simulated CPU with one task: taking a free lock always succeeds at once. The lock
// words are written as the kernel writes them so inline readers (spin_is_locked, mutex_is_locked)
// agree; taking a lock the same task already holds is reported, as it would hang on the VM.
import type { CallArgs, KernelFunction } from '../cpu/types.js'
import type { KapiContext } from './context.js'
import { readUint, writeUint } from './guest.js'
import { KernelBug } from './heap.js'

/** What the task holds: lock address -> kind. */
type Held = Map<bigint, string>

const MUTEX_OWNER = 0n
const MUTEX_WAIT_LIST = 16n
const WAITQUEUE_HEAD = 8n
const RWSEM_COUNT = 0n
const RWSEM_OWNER = 8n
const RWSEM_WAIT_LIST = 24n
const RWSEM_WRITER_LOCKED = 1n
const RWSEM_READER_BIAS = 256n
/** A stand-in for `current` in a mutex's owner word (the CPU owns the real task_struct). */
const OWNER = 0xffff888000100000n

/**
 * spin_lock*, mutex_*, rw_semaphore, semaphore and the RCU read side as the module calls them.
 * @example lockFunctions(ctx)._raw_spin_lock_irqsave(call) // returns the saved flags (0x200: IF set)
 */
export function lockFunctions(ctx: KapiContext): Record<string, KernelFunction> {
  const mem = ctx.memory
  const held: Held = new Map()
  const take = (call: CallArgs, kind: string, write: () => void): void => {
    const addr = call.arg(0)
    if (held.has(addr)) {
      // A second acquire by the only task: it would spin or sleep forever on the VM.
      const hang =
        kind === 'mutex' || kind === 'rwsem' || kind === 'semaphore'
          ? 'the task blocks forever (the hung-task detector reports it after 120 s)'
          : 'the CPU spins forever ("watchdog: BUG: soft lockup")'
      throw new KernelBug(`${kind} 0x${addr.toString(16)} taken twice by the same task`, 'hang', hang)
    }
    held.set(addr, kind)
    write()
  }
  const release = (call: CallArgs, write: () => void): void => {
    held.delete(call.arg(0))
    write()
  }
  const spin = (call: CallArgs) => take(call, 'spinlock', () => writeUint(mem, call.arg(0), 4, 1))
  const unspin = (call: CallArgs) => release(call, () => writeUint(mem, call.arg(0), 4, 0))
  const mutex = (call: CallArgs) => take(call, 'mutex', () => writeUint(mem, call.arg(0) + MUTEX_OWNER, 8, OWNER))
  const unmutex = (call: CallArgs) => release(call, () => writeUint(mem, call.arg(0) + MUTEX_OWNER, 8, 0))
  const listInit = (addr: bigint): void => {
    writeUint(mem, addr, 8, addr)
    writeUint(mem, addr + 8n, 8, addr)
  }
  const tryTake = (call: CallArgs, kind: string, write: () => void, ok = 1, busy = 0): number => {
    if (held.has(call.arg(0))) return busy
    take(call, kind, write)
    return ok
  }
  // Flags as local_irq_save returns them with interrupts on: X86_EFLAGS_IF.
  const IRQ_FLAGS = 0x200
  const fns: Record<string, KernelFunction> = {
    __mutex_init: (call) => {
      writeUint(mem, call.arg(0) + MUTEX_OWNER, 8, 0)
      listInit(call.arg(0) + MUTEX_WAIT_LIST)
    },
    mutex_lock: mutex,
    mutex_lock_nested: mutex,
    mutex_lock_interruptible: (call) => (mutex(call), 0),
    mutex_lock_killable: (call) => (mutex(call), 0),
    mutex_lock_io: mutex,
    mutex_trylock: (call) => tryTake(call, 'mutex', () => writeUint(mem, call.arg(0), 8, OWNER)),
    mutex_unlock: unmutex,
    mutex_is_locked: (call) => (readUint(mem, call.arg(0) + MUTEX_OWNER, 8) !== 0n ? 1 : 0),
    _raw_spin_lock: spin,
    _raw_spin_lock_bh: spin,
    _raw_spin_lock_irq: spin,
    _raw_spin_lock_irqsave: (call) => (spin(call), IRQ_FLAGS),
    _raw_spin_lock_nested: spin,
    _raw_spin_unlock: unspin,
    _raw_spin_unlock_bh: unspin,
    _raw_spin_unlock_irq: unspin,
    _raw_spin_unlock_irqrestore: unspin,
    _raw_spin_trylock: (call) => tryTake(call, 'spinlock', () => writeUint(mem, call.arg(0), 4, 1)),
    _raw_spin_trylock_bh: (call) => tryTake(call, 'spinlock', () => writeUint(mem, call.arg(0), 4, 1)),
    __init_rwsem: (call) => {
      writeUint(mem, call.arg(0) + RWSEM_COUNT, 8, 0)
      writeUint(mem, call.arg(0) + RWSEM_OWNER, 8, 0)
      listInit(call.arg(0) + RWSEM_WAIT_LIST)
    },
    down_read: (call) => take(call, 'rwsem', () => writeUint(mem, call.arg(0), 8, RWSEM_READER_BIAS)),
    down_read_trylock: (call) => tryTake(call, 'rwsem', () => writeUint(mem, call.arg(0), 8, RWSEM_READER_BIAS)),
    down_read_interruptible: (call) => (take(call, 'rwsem', () => writeUint(mem, call.arg(0), 8, RWSEM_READER_BIAS)), 0),
    down_read_killable: (call) => (take(call, 'rwsem', () => writeUint(mem, call.arg(0), 8, RWSEM_READER_BIAS)), 0),
    up_read: (call) => release(call, () => writeUint(mem, call.arg(0), 8, 0)),
    down_write: (call) => take(call, 'rwsem', () => writeUint(mem, call.arg(0), 8, RWSEM_WRITER_LOCKED)),
    down_write_trylock: (call) => tryTake(call, 'rwsem', () => writeUint(mem, call.arg(0), 8, RWSEM_WRITER_LOCKED)),
    down_write_killable: (call) => (take(call, 'rwsem', () => writeUint(mem, call.arg(0), 8, RWSEM_WRITER_LOCKED)), 0),
    up_write: (call) => release(call, () => writeUint(mem, call.arg(0), 8, 0)),
    downgrade_write: (call) => writeUint(mem, call.arg(0), 8, RWSEM_READER_BIAS),
    // struct semaphore { raw_spinlock_t lock; unsigned int count; struct list_head wait_list; }: the count is the state.
    down: (call) => semDown(call),
    down_interruptible: (call) => (semDown(call), 0),
    down_killable: (call) => (semDown(call), 0),
    down_timeout: (call) => (semDown(call), 0),
    down_trylock: (call) => {
      const count = readUint(mem, call.arg(0) + 4n, 4)
      if (count === 0n) return 1
      writeUint(mem, call.arg(0) + 4n, 4, count - 1n)
      return 0
    },
    up: (call) => writeUint(mem, call.arg(0) + 4n, 4, readUint(mem, call.arg(0) + 4n, 4) + 1n),
    // The RCU read side is a nesting count in the task; on one CPU with no preemption nothing waits on it.
    __rcu_read_lock: () => undefined,
    __rcu_read_unlock: () => undefined,
    __init_waitqueue_head: (call) => {
      writeUint(mem, call.arg(0), 4, 0)
      listInit(call.arg(0) + WAITQUEUE_HEAD)
    },
    __init_swait_queue_head: (call) => {
      writeUint(mem, call.arg(0), 4, 0)
      listInit(call.arg(0) + WAITQUEUE_HEAD)
    },
    __local_bh_enable_ip: () => undefined,
  }
  const semDown = (call: CallArgs): void => {
    const count = readUint(mem, call.arg(0) + 4n, 4)
    if (count === 0n)
      throw new KernelBug(
        `semaphore 0x${call.arg(0).toString(16)} down with a count of 0`,
        'hang',
        'the task blocks forever (the hung-task detector reports it after 120 s)',
      )
    writeUint(mem, call.arg(0) + 4n, 4, count - 1n)
  }
  return fns
}
