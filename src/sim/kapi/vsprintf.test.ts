import { describe, expect, test } from 'vitest'
import { GuestFault } from '../cpu/types.js'
import { fromUtf8 } from './guest.js'
import { PageMemory } from './test-memory.js'
import { listVa } from './va.js'
import { vsprintf, type VsprintfOptions } from './vsprintf.js'

const STR = 0xffff888000001000n
function fmt(f: string, args: Array<bigint | number>, opts: VsprintfOptions = {}, mem = new PageMemory()): string {
  return fromUtf8(vsprintf(mem, f, listVa(args), opts))
}

describe('vsprintf integers (lib/vsprintf.c number())', () => {
  test.each([
    ['%d', [-5], '-5'],
    ['%i', [0xffffffff], '-1'],
    ['%u', [-1], '4294967295'],
    ['%x|%X|%#x|%#X|%#o|%o', [255, 255, 255, 255, 8, 0], 'ff|FF|0xff|0XFF|010|0'],
    ['%#x %#o', [0, 0], '0x0 0'],
    ['%08x|%-8x|%8x', [0xbeef, 0xbeef, 0xbeef], '0000beef|beef    |    beef'],
    ['%+d % d %+d', [5, 5, -5], '+5  5 -5'],
    ['%05d|%-05d|%.3d|%6.3d', [-42, -42, 7, 7], '-0042|-42  |007|   007'],
    ['%ld %lu %lld %llu', [-1n, -1n, -9223372036854775808n, 18446744073709551615n], '-1 18446744073709551615 -9223372036854775808 18446744073709551615'],
    ['%zu %zd %td %Lu', [-1n, -1n, -2n, 3n], '18446744073709551615 -1 -2 3'],
    ['%lx %llx', [0xffffffffc0201000n, 0xdeadbeefn], 'ffffffffc0201000 deadbeef'],
    ['%hd %hu %hhd %hhu %hx', [0x18000, 0x18000, 0x1ff, 0x1ff, 0x12345], '-32768 32768 -1 255 2345'],
    ['%*d|%-*d|%*d', [5, 42, 5, 42, -5, 42], '   42|42   |42   '],
    ['%.0d|%.0x', [0, 0], '0|0'],
    ['%c%c|%3c|%-3c|', [0x41, 0x142, 0x42, 0x43], 'AB|  B|C  |'],
    ['100%%', [], '100%'],
  ])('%s', (f, args, want) => {
    expect(fmt(f, args as Array<bigint | number>)).toBe(want)
  })

  test('an unsupported conversion or %n stops the output there (and notes the WARN)', () => {
    const notes: string[] = []
    expect(fmt('a=%d %n b=%d', [1, 0, 2], { notes })).toBe('a=1 ')
    expect(notes.join('\n')).toMatch(/unsupported %n/)
    expect(fmt('x%jd y', [1])).toBe('x')
    expect(fmt('%Zd', [1])).toBe('')
  })
})

describe('vsprintf strings', () => {
  test('%s with width, precision, NULL and small pointers', () => {
    const mem = new PageMemory()
    mem.put(STR, 'hello')
    expect(fmt('[%s][%8s][%-8s][%.3s][%*.*s]', [STR, STR, STR, STR, 6, 2, STR], {}, mem)).toBe('[hello][   hello][hello   ][hel][    he]')
    expect(fmt('[%s][%10s][%.3s][%s][%s]', [0, 0, 0, 16, -12n], {}, mem)).toBe('[(null)][    (null)][(nu][(efault)][(efault)]')
  })

  test('a negative * precision means 0 in the kernel (not "none" as in C)', () => {
    const mem = new PageMemory()
    mem.put(STR, 'hello')
    expect(fmt('[%.*s]', [-1, STR], {}, mem)).toBe('[]')
  })

  test('a %s pointer that is not mapped faults, as the kernel oopses', () => {
    expect(() => fmt('%s', [0xffff888000100000n])).toThrow(GuestFault)
  })

  test('a precision stops reading before an unmapped page', () => {
    const mem = new PageMemory()
    const end = STR + 4093n
    mem.put(end, new Uint8Array([0x61, 0x62, 0x63]))
    expect(fmt('%.3s', [end], {}, mem)).toBe('abc')
  })
})
