import { describe, expect, test } from 'vitest'
import { fromUtf8, readCString, readUint } from './guest.js'
import { KernelBug } from './heap.js'
import { stringFunctions } from './strings.js'
import { callWith, testContext } from './testing.js'

const setup = () => {
  const ctx = testContext()
  const fns = stringFunctions(ctx)
  const call = (fn: string, ...args: Array<bigint | number>) => fns[fn]!(callWith(ctx.memory, args))
  const buf = (n: number, fill = 0x7e) => ctx.scratch.put(new Uint8Array(n).fill(fill))
  const s = (x: string) => ctx.scratch.put(x)
  const text = (a: bigint) => fromUtf8(readCString(ctx.memory, a))
  const signed = (v: unknown) => Number(BigInt.asIntN(64, BigInt(v as bigint)))
  return { ctx, call, buf, s, text, signed }
}

describe('lib/string.c', () => {
  test('mem*: copy, move, set, compare (difference of the first differing bytes), chr', () => {
    const { ctx, call, buf, s, signed } = setup()
    const d = buf(16)
    expect(call('memcpy', d, s('hello'), 6)).toBe(d)
    expect(fromUtf8(ctx.memory.read(d, 5))).toBe('hello')
    call('memmove', d + 1n, d, 5)
    expect(fromUtf8(ctx.memory.read(d, 6))).toBe('hhello')
    call('memset', d, 0x41, 3)
    expect(fromUtf8(ctx.memory.read(d, 6))).toBe('AAAllo')
    expect(signed(call('memcmp', s('abc'), s('abd'), 3))).toBe(-1)
    expect(signed(call('memcmp', s('az'), s('aa'), 2))).toBe(25)
    expect(call('memcmp', s('ab'), s('ab'), 2)).toBe(0)
    const hay = s('xyz')
    expect(call('memchr', hay, 0x7a, 3)).toBe(hay + 2n)
    expect(call('memchr', hay, 0x71, 3)).toBe(0)
  })

  test('strlen/strnlen/strcmp/strncmp: -1/0/1 as lib/string.c returns', () => {
    const { call, s, signed } = setup()
    expect(call('strlen', s('hello'))).toBe(5)
    expect(call('strnlen', s('hello'), 3)).toBe(3)
    expect(signed(call('strcmp', s('a'), s('b')))).toBe(-1)
    expect(signed(call('strcmp', s('b'), s('abc')))).toBe(1)
    expect(signed(call('strcmp', s('ab'), s('ab')))).toBe(0)
    expect(signed(call('strncmp', s('abcX'), s('abcY'), 3))).toBe(0)
    expect(signed(call('strncmp', s('abc'), s('abd'), 3))).toBe(-1)
  })

  test('strscpy: length, or -E2BIG with a terminated cut; strlcpy returns strlen(src)', () => {
    const { ctx, call, buf, s, text, signed } = setup()
    const d = buf(16)
    expect(call('strscpy', d, s('hi'), 16)).toBe(2n)
    // x86-64 copies a word at a time: the rest of that word is zeroed too.
    expect(Array.from(ctx.memory.read(d, 10))).toEqual([0x68, 0x69, 0, 0, 0, 0, 0, 0, 0x7e, 0x7e])
    expect(signed(call('strscpy', d, s('abcdefghijklmnopq'), 10))).toBe(-7)
    expect(text(d)).toBe('abcdefghi')
    expect(signed(call('strscpy', d, s('x'), 0))).toBe(-7)
    expect(call('strlcpy', d, s('abcdef'), 4)).toBe(6)
    expect(text(d)).toBe('abc')
  })

  test('strncpy pads with NULs and does not terminate a long source; strcat/strncat/strlcat', () => {
    const { ctx, call, buf, s, text } = setup()
    const d = buf(8)
    call('strncpy', d, s('ab'), 5)
    expect(Array.from(ctx.memory.read(d, 6))).toEqual([0x61, 0x62, 0, 0, 0, 0x7e])
    call('strncpy', d, s('abcdefgh'), 3)
    expect(Array.from(ctx.memory.read(d, 4))).toEqual([0x61, 0x62, 0x63, 0])
    const e = buf(16, 0)
    call('strcpy', e, s('ab'))
    call('strcat', e, s('cd'))
    call('strncat', e, s('efgh'), 2)
    expect(text(e)).toBe('abcdef')
    expect(call('strlcat', e, s('XYZ'), 8)).toBe(9)
    expect(text(e)).toBe('abcdefX')
    expect(() => call('strlcat', e, s('Q'), 4)).toThrow(KernelBug)
  })

  test('strchr/strrchr/strstr/strnstr', () => {
    const { call, s } = setup()
    const p = s('a/b/c')
    expect(call('strchr', p, 0x2f)).toBe(p + 1n)
    expect(call('strrchr', p, 0x2f)).toBe(p + 3n)
    expect(call('strchr', p, 0)).toBe(p + 5n)
    expect(call('strchr', p, 0x7a)).toBe(0)
    expect(call('strstr', p, s('b/c'))).toBe(p + 2n)
    expect(call('strstr', p, s(''))).toBe(p)
    expect(call('strnstr', p, s('b/c'), 5)).toBe(p + 2n)
    expect(call('strnstr', p, s('b/c'), 4)).toBe(0)
  })
})

describe('the printf-to-buffer family', () => {
  test('snprintf truncates and returns the full length; scnprintf returns what it wrote; size 0 writes nothing', () => {
    const { ctx, call, buf, s, text } = setup()
    const d = buf(16)
    expect(call('snprintf', d, 6, s('%d-%s'), 1234, s('abc'))).toBe(8)
    expect(text(d)).toBe('1234-')
    expect(call('scnprintf', d, 6, s('%d-%s'), 1234, s('abc'))).toBe(5)
    expect(call('scnprintf', d, 0, s('%d'), 1)).toBe(0)
    expect(call('sprintf', d, s('[%3d]'), 7)).toBe(5)
    expect(text(d)).toBe('[  7]')
    const e = buf(4)
    expect(call('snprintf', e, 0, s('abc'))).toBe(3)
    expect(readUint(ctx.memory, e, 4)).toBe(0x7e7e7e7en)
  })

  test('kasprintf allocates exactly the formatted string; vsnprintf reads a guest va_list', () => {
    const { ctx, call, s, text, buf } = setup()
    const p = call('kasprintf', 0xcc0, s('%s=%u'), s('n'), 42) as bigint
    expect(text(p)).toBe('n=42')
    expect(ctx.heap.get(p)?.size).toBe(5)
    const save = buf(48, 0)
    ctx.memory.write(save + 24n, new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0]))
    const va = buf(24, 0)
    ctx.memory.write(va, new Uint8Array([24, 0, 0, 0]))
    ctx.memory.write(va + 16n, new Uint8Array(new BigUint64Array([save]).buffer))
    const d = buf(8)
    expect(call('vsnprintf', d, 8, s('v%d'), va)).toBe(2)
    expect(text(d)).toBe('v9')
  })

  test('fortify_panic prints the kernel line at KERN_EMERG and BUGs', () => {
    const { ctx, call, s } = setup()
    expect(() => call('fortify_panic', s('memcpy'))).toThrow(/string_helpers.c:1027/)
    expect(ctx.printk.since(0).map((r) => [r.level, r.text])).toEqual([[0, 'detected buffer overflow in memcpy']])
  })
})
