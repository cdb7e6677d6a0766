// Vectors from the kernel's own lib/test-kstrtox.c (6.1); the errno for each failure follows lib/kstrtox.c.
import { describe, expect, test } from 'vitest'
import { readUint } from './guest.js'
import { EINVAL, ERANGE, kstrtobool, kstrtoll, kstrtoull, kstrtoxFunctions, simpleStrtoll, simpleStrtoull } from './kstrtox.js'
import { callWith, testContext } from './testing.js'

const b = (s: string) => new TextEncoder().encode(s)

describe('kstrtoull / kstrtoll (lib/kstrtox.c)', () => {
  test.each([
    ['0', 10, 0n],
    ['18446744073709551615', 10, 18446744073709551615n],
    ['0177', 8, 0o177n],
    ['01777777777777777777777', 8, 18446744073709551615n],
    ['0x7f', 16, 0x7fn],
    ['0xffffffffffffffff', 16, 18446744073709551615n],
    ['0\n', 0, 0n],
    ['+5', 10, 5n],
    ['0x1A', 0, 26n],
    ['017', 0, 15n],
    ['ff', 16, 255n],
  ])('kstrtoull(%j, %i) = %s', (s, base, want) => {
    expect(kstrtoull(b(s), base)).toEqual({ err: 0, value: want })
  })

  test.each(['', '\n', '\n0', '+', '-', '0x', '0X', '0 ', '1+', '1-', ' 2', '0x0z', '0z', 'a', '-0', '-1', '-+1', '0\n0', '0\n+', '0\n '])(
    'kstrtoull(%j, 0) is -EINVAL',
    (s) => {
      expect(kstrtoull(b(s), 0).err).toBe(-EINVAL)
    },
  )

  test('"0x" in base 16 has no digits (-EINVAL); a digit beyond the base stops the parse (-EINVAL)', () => {
    expect(kstrtoull(b('0x'), 16).err).toBe(-EINVAL)
    expect(kstrtoull(b('2'), 2).err).toBe(-EINVAL)
    expect(kstrtoull(b('g'), 16).err).toBe(-EINVAL)
  })

  test.each([
    ['10000000000000000000000000000000000000000000000000000000000000000', 2],
    ['2000000000000000000000', 8],
    ['18446744073709551616', 10],
    ['10000000000000000', 16],
  ])('overflow %s (base %i) is -ERANGE', (s, base) => {
    expect(kstrtoull(b(s), base).err).toBe(-ERANGE)
  })

  test('kstrtoll: LLONG_MIN fits, one past either end is -ERANGE, "-+1" is -EINVAL', () => {
    expect(kstrtoll(b('-9223372036854775808'), 10)).toEqual({ err: 0, value: -9223372036854775808n })
    expect(kstrtoll(b('-0'), 10)).toEqual({ err: 0, value: 0n })
    for (const s of ['9223372036854775808', '-9223372036854775809', '-18446744073709551615']) expect(kstrtoll(b(s), 10).err).toBe(-ERANGE)
    expect(kstrtoll(b('-+1'), 10).err).toBe(-EINVAL)
  })

  test('kstrtobool: first byte (or "on"/"off"), NULL is -EINVAL', () => {
    for (const s of ['y', 'Yes', 't', 'T', '1', 'on', 'ON', 'oN']) expect(kstrtobool(b(s))).toEqual({ err: 0, value: true })
    for (const s of ['n', 'No', 'f', '0', 'off', 'OF']) expect(kstrtobool(b(s))).toEqual({ err: 0, value: false })
    for (const s of ['', 'o', 'ox', '2', 'x']) expect(kstrtobool(b(s)).err).toBe(-EINVAL)
    expect(kstrtobool(undefined).err).toBe(-EINVAL)
  })

  test('simple_strto*: parse a prefix, never fail, wrap on overflow', () => {
    expect(simpleStrtoull(b('123abc'), 10)).toEqual({ value: 123n, end: 3 })
    expect(simpleStrtoull(b('0x1fz'), 0)).toEqual({ value: 31n, end: 4 })
    expect(simpleStrtoull(b('xyz'), 10)).toEqual({ value: 0n, end: 0 })
    expect(simpleStrtoll(b('-42 '), 10)).toEqual({ value: 2n ** 64n - 42n, end: 3 })
    expect(simpleStrtoull(b('18446744073709551617'), 10).value).toBe(1n)
  })
})

describe('kstrto* as module calls', () => {
  const ctx = testContext()
  const fns = kstrtoxFunctions()
  const run = (fn: string, s: string, base: number, size: 1 | 2 | 4 | 8) => {
    const res = ctx.scratch.put(new Uint8Array(8).fill(0xaa))
    const ret = BigInt.asIntN(64, BigInt(fns[fn]!(callWith(ctx.memory, [ctx.scratch.put(s), base, res])) ?? 0))
    return { ret: Number(ret), value: readUint(ctx.memory, res, size) }
  }

  test('the result is written only on success, with the width of the type', () => {
    expect(run('kstrtoint', '-5', 10, 4)).toEqual({ ret: 0, value: 0xfffffffbn })
    expect(run('kstrtoint', '2147483648', 10, 4)).toEqual({ ret: -ERANGE, value: 0xaaaaaaaan })
    expect(run('kstrtouint', '-1', 10, 4)).toEqual({ ret: -EINVAL, value: 0xaaaaaaaan })
    expect(run('kstrtou8', '255\n', 10, 1)).toEqual({ ret: 0, value: 255n })
    expect(run('kstrtou8', '256', 10, 1).ret).toBe(-ERANGE)
    expect(run('kstrtos8', '-128', 10, 1)).toEqual({ ret: 0, value: 0x80n })
    expect(run('kstrtos8', '-129', 10, 1).ret).toBe(-ERANGE)
    expect(run('kstrtou16', '65535', 0, 2)).toEqual({ ret: 0, value: 0xffffn })
    expect(run('kstrtos16', '32768', 0, 2).ret).toBe(-ERANGE)
    expect(run('_kstrtoul', '0x10', 0, 8)).toEqual({ ret: 0, value: 16n })
    expect(run('kstrtoull', '18446744073709551615', 10, 8)).toEqual({ ret: 0, value: 18446744073709551615n })
  })

  test('simple_strtoul sets *endp', () => {
    const s = ctx.scratch.put('77 rest')
    const endp = ctx.scratch.put(new Uint8Array(8))
    expect(fns.simple_strtoul!(callWith(ctx.memory, [s, endp, 8]))).toBe(63n)
    expect(readUint(ctx.memory, endp, 8)).toBe(s + 2n)
  })
})
