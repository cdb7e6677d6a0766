// fixtures/printk/kapi_checks.ko printed the return values of kernel functions on the 6.1 VM
// (capture.json); the same calls through createKernelApi must print the same lines.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'
import { Printk } from '../kernel/printk.js'
import { readCString, readUint, s32, writeUint } from './guest.js'
import { createKernelApi } from './index.js'
import { PageMemory, Scratch } from './test-memory.js'
import { callWith } from './testing.js'
import { HZ } from './time.js'

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'fixtures', 'printk')
const capture = JSON.parse(readFileSync(join(dir, 'capture.json'), 'utf8')) as {
  commands: Array<{ cmd: string; dmesg: Array<{ level: number; text: string }> }>
}

const INTS = [
  '42',
  '-42',
  '+5',
  '5\n',
  '5\n\n',
  ' 5',
  '',
  '-0',
  '2147483647',
  '2147483648',
  '-2147483648',
  '-2147483649',
  '0x1f',
  '0x',
  '0777',
  '08',
  '1e',
  '4294967296',
]

function simulate() {
  const memory = new PageMemory()
  const printk = new Printk(4_200_000)
  const api = createKernelApi({ memory, printk, caller: () => 500 })
  const scratch = new Scratch(memory)
  const f = (name: string, ...args: Array<bigint | number>) => BigInt(api.functions[name]!(callWith(memory, args)) ?? 0)
  const int = (name: string, ...args: Array<bigint | number>) => s32(f(name, ...args))
  const str = (s: string) => scratch.put(s)
  const pr = (fmt: string, ...args: Array<bigint | number>) => f('_printk', str(`\x016${fmt}`), ...args)
  const text = (a: bigint) => new TextDecoder().decode(readCString(memory, a))
  const from = printk.nextSeq()

  // kchk_kstrto()
  const v = scratch.put(new Uint8Array(8))
  INTS.forEach((s, i) => {
    for (const base of [10, 0, 16]) {
      writeUint(memory, v, 4, 0x5a5a)
      const r = int('kstrtoint', str(s), base, v)
      pr('kchk: kstrtoint[%u,%d]=%d %d\n', i, base, r, readUint(memory, v, 4))
    }
  })
  const out = scratch.put(new Uint8Array(8))
  const typed = (fn: string, s: string, base: number, size: 1 | 2 | 4 | 8, init: bigint) => {
    writeUint(memory, out, 8, init)
    const r = int(fn, str(s), base, out)
    return [r, readUint(memory, out, size)] as const
  }
  let [r, x] = typed('kstrtou8', '256', 10, 1, 7n)
  pr('kchk: kstrtou8(256)=%d %u\n', r, x)
  ;[r, x] = typed('kstrtou8', '255', 10, 1, x)
  pr('kchk: kstrtou8(255)=%d %u\n', r, x)
  ;[r, x] = typed('kstrtos8', '-128', 10, 1, 7n)
  pr('kchk: kstrtos8(-128)=%d %d\n', r, BigInt.asIntN(8, x))
  ;[r, x] = typed('kstrtos8', '-129', 10, 1, x)
  pr('kchk: kstrtos8(-129)=%d %d\n', r, BigInt.asIntN(8, x))
  ;[r, x] = typed('kstrtou16', '0xffff', 0, 2, 7n)
  pr('kchk: kstrtou16(0xffff)=%d %u\n', r, x)
  ;[r, x] = typed('kstrtoull', '18446744073709551615', 10, 8, 7n)
  pr('kchk: kstrtoull(max)=%d %llu\n', r, x)
  ;[r, x] = typed('kstrtoull', '18446744073709551616', 10, 8, x)
  pr('kchk: kstrtoull(max+1)=%d %llu\n', r, x)
  ;[r, x] = typed('kstrtoll', '-9223372036854775808', 10, 8, 7n)
  pr('kchk: kstrtoll(min)=%d %lld\n', r, x)
  ;[r, x] = typed('kstrtoll', '-9223372036854775809', 10, 8, x)
  pr('kchk: kstrtoll(min-1)=%d %lld\n', r, x)
  let b = 0n
  for (const s of ['on', 'of', 'Yes', '2']) {
    writeUint(memory, out, 1, b)
    r = int('kstrtobool', str(s), out)
    b = readUint(memory, out, 1)
    pr(`kchk: kstrtobool(${s})=%d %d\n`, r, b)
  }
  const end = scratch.put(new Uint8Array(8))
  let s = str('0x1fz')
  const ul = f('simple_strtoul', s, end, 0)
  pr('kchk: simple_strtoul(0x1fz)=%lu end+%d\n', ul, readUint(memory, end, 8) - s)
  s = str('-42abc')
  const l = f('simple_strtol', s, end, 10)
  pr('kchk: simple_strtol(-42abc)=%ld end+%d\n', l, readUint(memory, end, 8) - s)
  pr('kchk: simple_strtoull(2^64 wrap)=%llu\n', f('simple_strtoull', str('99999999999999999999'), end, 10))

  // kchk_strings()
  const buf = scratch.put(new Uint8Array(16))
  // FORTIFY's inline strscpy on a 16-byte array: strnlen(q, size), then strscpy(p, q, len + 1 or size).
  const fortified = (q: bigint, size: number) => {
    const len = Number(f('strnlen', q, size))
    return int('strscpy', buf, q, len === size ? size : len + 1)
  }
  f('memset', buf, 0x7e, 16)
  let n = fortified(str('hello world'), 6)
  pr('kchk: strscpy(cut)=%d [%s] %*ph\n', n, buf, 8, buf)
  f('memset', buf, 0x7e, 16)
  n = fortified(str('hi'), 16)
  pr('kchk: strscpy(fit)=%d %*ph\n', n, 12, buf)
  f('memset', buf, 0x7e, 16)
  n = int('strscpy', buf, str('hi'), 16)
  pr('kchk: strscpy(word)=%d %*ph\n', n, 12, buf)
  n = int('strlcpy', buf, str('abcdef'), 4)
  pr('kchk: strlcpy=%d [%s]\n', n, buf)
  pr('kchk: strcmp=%d %d %d\n', f('strcmp', str('a'), str('b')), f('strcmp', str('b'), str('abc')), f('strcmp', str('ab'), str('ab')))
  pr('kchk: strncmp=%d %d\n', f('strncmp', str('abcX'), str('abcY'), 3), f('strncmp', str('abc'), str('abd'), 3))
  pr(
    'kchk: memcmp=%d %d %d\n',
    f('memcmp', str('az'), str('aa'), 2),
    f('memcmp', str('abc'), str('abd'), 3),
    f('memcmp', str('0123456789a'), str('0123456789A'), 11),
  )
  n = int('snprintf', buf, 6, str('%d-%s'), 1234, str('abc'))
  pr('kchk: snprintf=%d [%s]\n', n, buf)
  n = int('scnprintf', buf, 6, str('%d-%s'), 1234, str('abc'))
  pr('kchk: scnprintf=%d [%s]\n', n, buf)
  pr('kchk: snprintf(NULL,0)=%d scnprintf(,0)=%d\n', f('snprintf', 0, 0, str('abc')), f('scnprintf', buf, 0, str('abc')))
  const p = f('kasprintf', 0xcc0, str('%s=%u'), str('n'), 42)
  pr('kchk: kasprintf=[%s] ksize=%zu\n', p, f('ksize', p))
  f('kfree', p)
  const path = str('a/b/c')
  const off = (a: bigint) => a - path
  pr(
    'kchk: strchr=%d strrchr=%d strstr=%d strnstr=%d,%d\n',
    off(f('strchr', path, 0x2f)),
    off(f('strrchr', path, 0x2f)),
    off(f('strstr', path, str('b/c'))),
    f('strnstr', path, str('b/c'), 5) ? 1 : 0,
    f('strnstr', path, str('b/c'), 4) ? 1 : 0,
  )

  // kchk_text()
  const lat = (bytes: number[]) => scratch.put(new Uint8Array([...bytes, 0]))
  pr(
    'kchk: strcasecmp=%d %d %d %d\n',
    int('strcasecmp', str('ABC'), str('abd')),
    int('strcasecmp', str('Hello'), str('hELLO')),
    int('strcasecmp', lat([0xc0]), lat([0xe0])),
    int('strcasecmp', str('a'), str('')),
  )
  pr(
    'kchk: strncasecmp=%d %d %d\n',
    int('strncasecmp', str('ABCx'), str('abcy'), 3),
    int('strncasecmp', str('ab'), str('aC'), 2),
    int('strncasecmp', str('a'), str('b'), 0),
  )
  const tb = scratch.put(new Uint8Array(32))
  const fortifiedCopy = (src: bigint) => {
    const len = Number(f('strnlen', src, 32))
    f('strscpy', tb, src, len === 32 ? 32 : len + 1)
  }
  fortifiedCopy(str('  \t trim me \n '))
  const trimmed = f('strim', tb)
  pr('kchk: strim=[%s] +%d\n', trimmed, trimmed - tb)
  pr('kchk: skip_spaces=[%s]\n', f('skip_spaces', lat([0x20, 0xa0, 0x20, 0x78])))
  pr(
    'kchk: sysfs_streq=%d %d %d %d\n',
    f('sysfs_streq', str('on'), str('on\n')),
    f('sysfs_streq', str('on\n'), str('on')),
    f('sysfs_streq', str('on'), str('on\n\n')),
    f('sysfs_streq', str('on'), str('onx')),
  )
  const modes = scratch.put(new Uint8Array(40))
  ;['off', 'on', 'auto', null, 'never'].forEach((m, i) => writeUint(memory, modes + BigInt(i * 8), 8, m === null ? 0n : str(m)))
  pr(
    'kchk: match_string=%d %d %d\n',
    int('match_string', modes, 5, str('auto')),
    int('match_string', modes, 5, str('never')),
    int('match_string', modes, 5, str('auto\n')),
  )
  pr('kchk: sysfs_match_string=%d\n', int('__sysfs_match_string', modes, 5, str('on\n')))
  const bin = scratch.put(new Uint8Array(4))
  let hr = int('hex2bin', bin, str('dEaDbeef'), 4)
  pr('kchk: hex2bin=%d %*ph\n', hr, 4, bin)
  hr = int('hex2bin', bin, str('12zz'), 2)
  pr('kchk: hex2bin(bad)=%d %*ph hex_to_bin=%d %d %d\n', hr, 4, bin, int('hex_to_bin', 0x46), int('hex_to_bin', 0x37), int('hex_to_bin', 0x67))
  fortifiedCopy(str('a,b;;c'))
  const pp = scratch.put(new Uint8Array(8))
  writeUint(memory, pp, 8, tb)
  for (let tok = f('strsep', pp, str(',;')); tok !== 0n; tok = f('strsep', pp, str(',;'))) {
    pr('kchk: strsep=[%s] rest=%s\n', tok, str(readUint(memory, pp, 8) !== 0n ? 'yes' : 'NULL'))
  }
  const hello = str('hello')
  pr(
    'kchk: strspn=%zu strcspn=%zu strpbrk=%d\n',
    f('strspn', str('aabbc'), str('ab')),
    f('strcspn', str('xyz:1'), str(':')),
    f('strpbrk', hello, str('lo')) - hello,
  )

  // kchk_hexdump()
  const dump = scratch.put(new Uint8Array([0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, ...new TextEncoder().encode('ABCDEFGHIJ kmodspec!~012345678abcd')]))
  const level = str('\x016')
  f('print_hex_dump', level, str('kchk: hd1 '), 2, 16, 1, dump, 40, 1)
  f('print_hex_dump', level, str('kchk: hd2 '), 0, 32, 4, dump, 40, 0)
  f('print_hex_dump', level, str('kchk: hd3 '), 2, 32, 2, dump, 40, 1)
  f('print_hex_dump', level, str('kchk: hd4 '), 0, 16, 8, dump, 24, 1)
  f('print_hex_dump', level, str('kchk: hd5 '), 0, 16, 4, dump, 6, 1)
  const line = scratch.put(new Uint8Array(64))
  pr('kchk: hex_dump_to_buffer=%d [%s]\n', int('hex_dump_to_buffer', dump, 10, 16, 1, line, 64, 0), line)
  pr('kchk: hex_dump_to_buffer(small)=%d\n', int('hex_dump_to_buffer', dump, 10, 16, 1, line, 8, 1))

  // kchk_heap()
  for (const size of [1, 8, 9, 24, 65, 96, 97, 100, 129, 193, 257, 1000, 4097, 8192, 8193]) {
    const q = f('__kmalloc', size, 0xcc0)
    pr('kchk: ksize(kmalloc(%zu))=%zu\n', size, f('ksize', q))
    f('kfree', q)
  }
  const z = f('__kmalloc', 0, 0xcc0)
  pr('kchk: kmalloc(0)=%px\n', z)
  f('kfree', z)
  const a = f('__kmalloc', 20, 0xcc0)
  const c = f('krealloc', a, 32, 0xcc0)
  pr('kchk: krealloc(20->32) same=%d\n', c === a ? 1 : 0)
  const d = f('krealloc', c, 100, 0xcc0)
  pr('kchk: krealloc(32->100) same=%d ksize=%zu\n', d === c ? 1 : 0, f('ksize', d))
  pr('kchk: krealloc(0)=%px\n', f('krealloc', d, 0, 0xcc0))

  // kchk_ratelimit(): static DEFINE_RATELIMIT_STATE(rs, HZ / 2, 2)
  const rs = scratch.put(new Uint8Array(40))
  writeUint(memory, rs + 4n, 4, HZ / 2)
  writeUint(memory, rs + 8n, 4, 2)
  const func = str('kchk_ratelimit')
  let hits = 0n
  for (let i = 0; i < 5; i++) hits += f('___ratelimit', rs, func)
  pr('kchk: ratelimit hits=%d\n', hits)
  f('msleep', 600)
  pr('kchk: ratelimit after 600 ms=%d\n', f('___ratelimit', rs, func))
  pr('kchk: done\n')
  void text
  return { records: printk.since(from), notes: api.context.notes }
}

test('kernel function return values on the simulator match the 6.1 VM (fixtures/printk/kapi_checks.ko)', () => {
  const vm = capture.commands.find((c) => c.cmd === 'insmod fixtures/printk/kapi_checks.ko')!.dmesg
  const module = vm.slice(vm.findIndex((r) => r.text.startsWith('kchk:')))
  const sim = simulate()
  expect(module.length).toBeGreaterThan(100)
  expect(sim.records.map((r) => ({ level: r.level, text: r.text }))).toEqual(module.map((r) => ({ level: r.level, text: r.text })))
})

test('%n, %j and %Z end the output where they stand; the first WARNs once, before its record (printk_invalid.ko)', () => {
  const step = capture.commands.find((c) => c.cmd === 'insmod fixtures/printk/printk_invalid.ko')!
  const vm = step.dmesg
  const warning = vm.findIndex((r) => r.text.startsWith('WARNING: '))
  const end = vm.findIndex((r) => r.text.startsWith('---[ end trace'))
  expect(vm[warning]!.text).toMatch(/^WARNING: CPU: 0 PID: \d+ at lib\/vsprintf.c:2661 format_decode\+/)
  const memory = new PageMemory()
  const printk = new Printk(4_200_000)
  const warned: string[] = []
  const api = createKernelApi({ memory, printk, warn: (at) => warned.push(`${at.file}:${at.line} ${at.func}`) })
  const scratch = new Scratch(memory)
  const pr = (fmt: string, ...args: Array<bigint | number>) => api.functions._printk!(callWith(memory, [scratch.put(`\x016${fmt}`), ...args]))
  pr('kinv: n=%d%n|after %d\n', 1, scratch.put(new Uint8Array(4)), 2)
  pr('kinv: j=%jd|after\n', 5)
  pr('kinv: Z=%Zd|after\n', 6)
  pr('kinv: next line\n')
  const sim = printk.since(0).map((r) => ({ level: r.level, text: r.text }))
  // The WARNING report itself (registers, call trace) is the CPU side's, through the warn hook.
  expect(warned).toEqual(['lib/vsprintf.c:2661 format_decode'])
  expect(sim).toEqual([...vm.slice(0, warning), ...vm.slice(end + 1)].map((r) => ({ level: r.level, text: r.text })))
})
