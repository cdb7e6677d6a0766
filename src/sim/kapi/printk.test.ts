import { describe, expect, test } from 'vitest'
import { LOG_LINE_MAX, Printk } from '../kernel/printk.js'
import { writeUint } from './guest.js'
import { printkFunctions } from './printk.js'
import { callWith, testContext } from './testing.js'
import { HZ } from './time.js'

const enc = (s: string) => new TextEncoder().encode(s)
const rec = (p: { since(from: number): Array<{ level: number; text: string }> }) => p.since(0).map((r) => [r.level, r.text])

describe('Printk.store (vprintk_store of 6.1)', () => {
  test('levels come from the first 7 bytes only; all leading prefixes are stripped', () => {
    const p = new Printk(0)
    p.store(enc('\x01c\x01c\x01c\x013four\n'))
    expect(rec(p)).toEqual([[4, 'four']])
  })

  test('KERN_CONT joins only the open record of the same caller', () => {
    const p = new Printk(0)
    p.store(enc('\x016a'), { caller: 1 })
    p.store(enc('\x01cb\n'), { caller: 2 })
    expect(rec(p)).toEqual([
      [6, 'a'],
      [4, 'b'],
    ])
  })

  test('a cut record loses its newline, stays open, and a fragment that does not fit starts a new one', () => {
    const p = new Printk(0)
    p.store(enc(`\x016${'y'.repeat(2000)}\n`))
    expect(p.since(0)).toEqual([])
    expect(p.nextSeq()).toBe(0)
    p.store(enc('\x01cz\n'))
    const r = p.since(0)
    expect(r.map((x) => x.text.length)).toEqual([LOG_LINE_MAX - 3, 1])
  })

  test('an open record is unseen until finalized, then belongs to the step that finalized it', () => {
    const p = new Printk(0)
    p.store(enc('\x016open'))
    const mark = p.nextSeq()
    expect(p.since(0)).toEqual([])
    p.log(6, 'next')
    expect(p.since(mark).map((r) => r.text)).toEqual(['open', 'next'])
  })

  test('dev info makes a record complete without a newline', () => {
    const p = new Printk(0)
    p.store(enc('x'), { level: 3, devInfo: true })
    p.store(enc('\x01cy\n'))
    expect(rec(p)).toEqual([
      [3, 'x'],
      [4, 'y'],
    ])
  })
})

describe('printk functions', () => {
  test('___ratelimit: burst 10 per 5 s of virtual time, then "callbacks suppressed" at KERN_WARNING', () => {
    const ctx = testContext()
    const fns = printkFunctions(ctx)
    const rs = ctx.scratch.put(new Uint8Array(40))
    writeUint(ctx.memory, rs + 4n, 4, 5 * HZ)
    writeUint(ctx.memory, rs + 8n, 4, 10)
    const func = ctx.scratch.put('my_func')
    const call = () => Number(fns.___ratelimit!(callWith(ctx.memory, [rs, func])))
    const first = Array.from({ length: 15 }, call)
    expect(first).toEqual([...Array(10).fill(1), ...Array(5).fill(0)])
    ctx.clock.tick(4_000_000)
    expect(call()).toBe(0)
    ctx.clock.tick(1_100_000)
    expect(call()).toBe(1)
    expect(rec(ctx.printk)).toEqual([[4, 'my_func: 6 callbacks suppressed']])
  })

  test('_printk returns the bytes stored; vprintk reads a guest va_list', () => {
    const ctx = testContext()
    const fns = printkFunctions(ctx)
    expect(fns._printk!(callWith(ctx.memory, [ctx.scratch.put('\x016n=%d\n'), 42]))).toBe(4)
    const save = ctx.scratch.put(new Uint8Array(48))
    writeUint(ctx.memory, save + 16n, 8, 7)
    const va = ctx.scratch.put(new Uint8Array(24))
    writeUint(ctx.memory, va, 4, 16)
    writeUint(ctx.memory, va + 16n, 8, save)
    fns.vprintk!(callWith(ctx.memory, [ctx.scratch.put('\x013v=%d\n'), va]))
    expect(rec(ctx.printk)).toEqual([
      [6, 'n=42'],
      [3, 'v=7'],
    ])
  })

  test('dev_* on a device the model does not know: a marker and a note, never a guessed name', () => {
    const ctx = testContext()
    printkFunctions(ctx)._dev_info!(callWith(ctx.memory, [0xffff888000500000n, ctx.scratch.put('hi\n')]))
    expect(ctx.printk.since(0)[0]!.text).toBe('(unknown driver) (unknown device 0xffff888000500000): hi')
    expect(ctx.notes.join()).toMatch(/unknown to the simulator's device model/)
  })

  test('netdev_* with a parent device prints through dev_printk: "DRIVER DEVICE NAME: "', () => {
    const parent = 0xffff888000600000n
    const nd = 0xffff888000700000n
    const ctx = testContext({
      resolveDevice: (d) => (d === parent ? { driver: 'e1000', name: '0000:00:03.0' } : undefined),
      resolveNetdev: (d) => (d === nd ? { name: 'eth0', regState: 1, parent } : undefined),
    })
    printkFunctions(ctx).netdev_info!(callWith(ctx.memory, [nd, ctx.scratch.put('link up')]))
    expect(rec(ctx.printk)).toEqual([[6, 'e1000 0000:00:03.0 eth0: link up']])
  })
})

test('__warn_printk prints the cut-here line and the message (the WARNING report follows from the trap)', () => {
  const ctx = testContext()
  printkFunctions(ctx).__warn_printk!(callWith(ctx.memory, [ctx.scratch.put('bad state %d\n'), 3]))
  expect(rec(ctx.printk)).toEqual([
    [4, '------------[ cut here ]------------'],
    [4, 'bad state 3'],
  ])
})
