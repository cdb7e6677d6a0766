import { describe, expect, test } from 'vitest'
import {
  classifyFailure,
  hasTaint,
  parseHolders,
  parseLsmod,
  parseModinfo,
  parseModinfoField,
  parseProcModules,
  parseRefcnt,
  parseTainted,
  stripTimestamp,
  taintLetters,
  unknownSymbols,
} from './index.js'

// Format cases on the seed documents' texts; captures.test.ts runs the parsers over everything the VM printed.
describe('observe parsers', () => {
  test('lsmod rows (seed 000)', () => {
    expect(parseLsmod('Module                  Size  Used by\nclient_lkm             20480  0\ncore_lkm               16384  1 client_lkm\n')).toEqual([
      { name: 'client_lkm', size: 20480, usedBy: 0, holders: [] },
      { name: 'core_lkm', size: 16384, usedBy: 1, holders: ['client_lkm'] },
    ])
    expect(() => parseLsmod('garbage line here\n')).toThrow(/not an lsmod line/)
  })

  test('/proc/modules lines: holders, permanent, taint', () => {
    const [a, b] = parseProcModules(
      'client_lkm 20480 0 - Live 0x0000000000000000 (OE)\ncore_lkm 16384 1 client_lkm, Live 0x0000000000000000 (OE)\nperm 16384 0 [permanent], Live 0x0000000000000000\n',
    )
    expect(a).toMatchObject({ name: 'client_lkm', refcount: 0, holders: [], taint: 'OE', state: 'Live' })
    expect(b).toMatchObject({ name: 'core_lkm', refcount: 1, holders: ['client_lkm'] })
    expect(parseProcModules('perm 16384 0 [permanent], Live 0x0000000000000000\n')[0]).toMatchObject({ permanent: true, holders: [] })
  })

  test('sysfs values', () => {
    expect(parseRefcnt('1\n')).toBe(1)
    expect(() => parseRefcnt('x')).toThrow(/not a refcnt/)
    expect(parseHolders('client_lkm\nother\n')).toEqual(['client_lkm', 'other'])
  })

  test('taint bits as the kernel table (v6.1)', () => {
    expect(taintLetters(4096 + 8192)).toBe('OE')
    expect(taintLetters(1)).toBe('P')
    expect(taintLetters(1 << 18)).toBe('N')
    expect(parseTainted('12289\n')).toBe('POE')
    expect(hasTaint('POE', 'OE')).toBe(true)
    expect(hasTaint('O', 'E')).toBe(false)
  })

  test('kernel log lines (seed 004)', () => {
    expect(stripTimestamp('[ 4715.854285] hello_feature: Unknown symbol api_test (err -2)')).toBe('hello_feature: Unknown symbol api_test (err -2)')
    expect(unknownSymbols(['hello_feature: Unknown symbol api_test (err -2)'])).toEqual([{ module: 'hello_feature', symbol: 'api_test', err: -2 }])
  })

  test('modinfo output', () => {
    expect(parseModinfoField('hello_api\n')).toEqual(['hello_api'])
    expect(parseModinfoField('')).toEqual([])
    expect(parseModinfo('license:        GPL\ndepends:        hello_api\n')).toEqual({ license: ['GPL'], depends: ['hello_api'] })
  })

  test('kmod failures classified from stderr and kernel lines (seeds)', () => {
    expect(
      classifyFailure({
        exitCode: 1,
        stderr: 'insmod: ERROR: could not insert module hello_feature.ko: Unknown symbol in module\n',
        dmesg: [{ seq: 1, level: 4, facility: 0, timestampUs: 0, text: 'hello_feature: Unknown symbol api_test (err -2)' }],
      }),
    ).toEqual({
      kind: 'unknown-symbol',
      module: 'hello_feature.ko',
      symbols: ['api_test'],
      line: 'insmod: ERROR: could not insert module hello_feature.ko: Unknown symbol in module',
    })
    expect(classifyFailure({ exitCode: 1, stderr: 'rmmod: ERROR: Module core_lkm is in use by: client_lkm\n', dmesg: [] })).toMatchObject({
      kind: 'in-use',
      by: ['client_lkm'],
    })
    expect(
      classifyFailure({ exitCode: 1, stderr: 'modprobe: FATAL: Module hello_feature.ko not found in directory /lib/modules/6.1.29\n', dmesg: [] }),
    ).toMatchObject({ kind: 'not-found' })
    expect(classifyFailure({ exitCode: 0, stderr: '', dmesg: [] })).toBeUndefined()
    expect(classifyFailure({ exitCode: 3, stderr: 'something odd\n', dmesg: [] })).toEqual({ kind: 'failed', line: 'something odd' })
  })
})
