import { describe, expect, test } from 'vitest'
import { readUint, writeUint } from './guest.js'
import { KernelBug } from './heap.js'
import { listFunctions } from './lists.js'
import { callWith, testContext } from './testing.js'

describe('CONFIG_DEBUG_LIST checks and refcount saturation', () => {
  const setup = () => {
    const ctx = testContext()
    const fns = listFunctions(ctx)
    const call = (fn: string, ...args: Array<bigint | number>) => fns[fn]!(callWith(ctx.memory, args))
    const node = () => ctx.scratch.put(new Uint8Array(16))
    const link = (a: bigint, b: bigint) => {
      writeUint(ctx.memory, a, 8, b)
      writeUint(ctx.memory, b + 8n, 8, a)
    }
    return { ctx, call, node, link }
  }

  test('a consistent add and del pass', () => {
    const { call, node, link } = setup()
    const head = node()
    link(head, head)
    const n = node()
    expect(call('__list_add_valid', n, head, head)).toBe(1)
    link(head, n)
    link(n, head)
    expect(call('__list_del_entry_valid', n)).toBe(1)
  })

  test('a double list_del (LIST_POISON1) is pr_err + BUG at lib/list_debug.c:53', () => {
    const { ctx, call, node } = setup()
    const n = node()
    writeUint(ctx.memory, n, 8, 0xdead000000000100n)
    writeUint(ctx.memory, n + 8n, 8, 0xdead000000000122n)
    expect(() => call('__list_del_entry_valid', n)).toThrow(KernelBug)
    expect(() => call('__list_del_entry_valid', n)).toThrow(/list_debug.c:53!/)
    expect(ctx.printk.since(0)[0]).toMatchObject({ level: 3, text: `list_del corruption, ${n.toString(16)}->next is LIST_POISON1 (dead000000000100)` })
  })

  test('list_add of an element already next to prev is a double add', () => {
    const { call, node, link } = setup()
    const head = node()
    link(head, head)
    expect(() => call('__list_add_valid', head, head, head)).toThrow(/list_debug.c:33!/)
  })

  test('refcount_warn_saturate saturates, prints the cut-here line and message once per kind', () => {
    const { ctx, call, node } = setup()
    const r = node()
    call('refcount_warn_saturate', r, 3)
    call('refcount_warn_saturate', r, 3)
    expect(readUint(ctx.memory, r, 4)).toBe(0xc0000000n)
    expect(ctx.printk.since(0).map((x) => x.text)).toEqual(['------------[ cut here ]------------', 'refcount_t: underflow; use-after-free.'])
    expect(ctx.notes.join()).toMatch(/lib\/refcount.c:28/)
  })

  test('__dynamic_pr_debug prints at KERN_DEBUG with the +m/+f/+l prefix its descriptor enables', () => {
    const { ctx, call } = setup()
    const desc = ctx.scratch.put(new Uint8Array(48))
    writeUint(ctx.memory, desc, 8, ctx.scratch.put('mymod'))
    writeUint(ctx.memory, desc + 8n, 8, ctx.scratch.put('my_fn'))
    writeUint(ctx.memory, desc + 32n, 4, (0x0f << 24) | 42)
    call('__dynamic_pr_debug', desc, ctx.scratch.put('x=%d\n'), 5)
    expect(ctx.printk.since(0).map((x) => [x.level, x.text])).toEqual([[7, 'mymod:my_fn:42: x=5']])
  })
})
