import { describe, expect, test } from 'vitest'
import { dataSymbols } from './data.js'
import { CacheRegistry } from './alloc.js'
import { readUint } from './guest.js'
import { KernelBug } from './heap.js'
import { lockFunctions } from './locks.js'
import { callWith, testContext } from './testing.js'
import { INITIAL_JIFFIES, jiffies, timeFunctions } from './time.js'

describe('locks on one CPU', () => {
  const setup = () => {
    const ctx = testContext()
    const fns = lockFunctions(ctx)
    const call = (fn: string, ...args: Array<bigint | number>) => fns[fn]!(callWith(ctx.memory, args))
    return { ctx, call, lock: ctx.scratch.put(new Uint8Array(64)) }
  }

  test('spin_lock_irqsave returns flags with IF; the lock word is 1 while held', () => {
    const { ctx, call, lock } = setup()
    expect(call('_raw_spin_lock_irqsave', lock)).toBe(0x200)
    expect(readUint(ctx.memory, lock, 4)).toBe(1n)
    call('_raw_spin_unlock_irqrestore', lock, 0x200)
    expect(readUint(ctx.memory, lock, 4)).toBe(0n)
  })

  test('mutex: init, lock, is_locked, trylock of a held one fails, unlock', () => {
    const { call, lock } = setup()
    call('__mutex_init', lock, 0, 0)
    expect(call('mutex_is_locked', lock)).toBe(0)
    call('mutex_lock', lock)
    expect(call('mutex_is_locked', lock)).toBe(1)
    expect(call('mutex_trylock', lock)).toBe(0)
    call('mutex_unlock', lock)
    expect(call('mutex_trylock', lock)).toBe(1)
    expect(call('mutex_lock_interruptible', lock + 32n)).toBe(0)
  })

  test('taking a held lock again would hang on the VM: reported as a hang', () => {
    const { call, lock } = setup()
    call('_raw_spin_lock', lock)
    expect(() => call('_raw_spin_lock', lock)).toThrow(KernelBug)
    call('mutex_lock', lock + 16n)
    try {
      call('mutex_lock', lock + 16n)
    } catch (e) {
      expect((e as KernelBug).kind).toBe('hang')
    }
  })

  test('semaphores count; down_trylock returns 0 on success', () => {
    const { ctx, call, lock } = setup()
    ctx.memory.write(lock + 4n, new Uint8Array([1, 0, 0, 0]))
    expect(call('down_trylock', lock)).toBe(0)
    expect(call('down_trylock', lock)).toBe(1)
    call('up', lock)
    expect(call('down_interruptible', lock)).toBe(0)
  })
})

describe('virtual clock', () => {
  test('jiffies start at INITIAL_JIFFIES and follow the clock at HZ=250', () => {
    const ctx = testContext()
    expect(INITIAL_JIFFIES).toBe(4294892296n)
    expect(jiffies(ctx.clock)).toBe(INITIAL_JIFFIES + 1050n)
    const fns = timeFunctions(ctx)
    const t0 = ctx.clock.now()
    fns.msleep!(callWith(ctx.memory, [20]))
    // msleep(20): msecs_to_jiffies(20) + 1 = 6 jiffies, ending on a jiffy boundary.
    expect(ctx.clock.now() - t0).toBe(24_000)
    expect(fns.ktime_get!(callWith(ctx.memory, []))).toBe(BigInt(ctx.clock.now()) * 1000n)
    fns.__const_udelay!(callWith(ctx.memory, [10 * 0x10c7]))
    expect(ctx.clock.now() - t0).toBe(24_010)
    expect(fns.__msecs_to_jiffies!(callWith(ctx.memory, [1]))).toBe(1)
  })

  test('the jiffies variable is refreshed by sync', () => {
    const ctx = testContext()
    const j = dataSymbols(ctx, new CacheRegistry(ctx)).find((d) => d.name === 'jiffies')!
    const at = 0xffffffff82100000n
    ctx.memory.map(at, 8, 'rw')
    j.init(ctx.memory, at)
    ctx.clock.tick(1_000_000)
    j.sync!(ctx.memory, at)
    expect(readUint(ctx.memory, at, 8)).toBe(INITIAL_JIFFIES + 1050n + 250n)
  })
})
