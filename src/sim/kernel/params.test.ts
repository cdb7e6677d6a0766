import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { readElf } from '../../elf/read.js'
import { parseModuleArgs, readParams, setParam, type ParamInstance } from './params.js'
import { Printk } from './printk.js'

const hooks = { taintUser: () => {} }
const int = (): ParamInstance => ({ name: 'count', type: 'int', perm: 0o444, unsafe: false, value: 1n })

describe('module parameters', () => {
  test('the __param array of params.ko: names, ops types, perms and initial values (fixtures/errors/params.c)', () => {
    const elf = readElf(readFileSync('fixtures/errors/params.ko'))
    const ps = readParams(elf, elf.sectionByName('__param'))
    // gcc emits the __param entries in reverse source order (readelf -r shows the same).
    expect(ps.map((p) => [p.name, p.type, p.perm.toString(8), p.value])).toEqual([
      ['verbose', 'bool', '644', false],
      ['name', 'charp', '644', 'world'],
      ['count', 'int', '444', 1n],
    ])
  })

  test('integers parse like kstrtoint with base 0; out of range is -ERANGE, junk -EINVAL', () => {
    const log = new Printk(0)
    const cases: Array<[string, number, bigint | undefined]> = [
      ['42', 0, 42n],
      ['0x1f', 0, 31n],
      ['010', 0, 8n],
      ['-7', 0, -7n],
      ['+3', 0, 3n],
      ['5\n', 0, 5n],
      ['2147483648', -34, undefined],
      ['-2147483649', -34, undefined],
      ['abc', -22, undefined],
      ['', -22, undefined],
      ['1x', -22, undefined],
    ]
    for (const [text, ret, value] of cases) {
      const p = int()
      expect(setParam(p, text, log), text).toBe(ret)
      if (value !== undefined) expect(p.value, text).toBe(value)
    }
  })

  test('bools take y/n/1/0/on/off forms and no value at all', () => {
    const log = new Printk(0)
    const b: ParamInstance = { name: 'v', type: 'bool', perm: 0o644, unsafe: false, value: false }
    for (const [v, want] of [
      ['Y', true],
      ['n', false],
      ['1', true],
      ['on', true],
      ['off', false],
      [null, true],
    ] as const) {
      expect(setParam(b, v, log)).toBe(0)
      expect(b.value).toBe(want)
    }
    expect(setParam(b, 'maybe', log)).toBe(-22)
  })

  test('parse_args: dashes match underscores, quotes keep spaces, the last error wins, -- stops', () => {
    const log = new Printk(0)
    const ps: ParamInstance[] = [int(), { name: 'my_name', type: 'charp', perm: 0o644, unsafe: false, value: null }]
    expect(parseModuleArgs('m', 'count=7 my-name="two words"', ps, log, hooks)).toBe(0)
    expect(ps.map((p) => p.value)).toEqual([7n, 'two words'])
    expect(parseModuleArgs('m', 'count=x count=99999999999 count', ps, log, hooks)).toBe(-22)
    expect(parseModuleArgs('m', 'count=x count=99999999999', ps, log, hooks)).toBe(-34)
    expect(parseModuleArgs('m', '-- count=x', ps, log, hooks)).toBe(0)
    expect(ps[0]?.value).toBe(7n)
  })
})
