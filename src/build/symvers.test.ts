import { describe, expect, test } from 'vitest'
import { changeSymbol, formatSymvers, parseSymvers } from './symvers.js'

const text = '0xa83d4555\tapi_test\t/tmp/x/hello_api\tEXPORT_SYMBOL\t\n0x17ba5186\tcore_gpl_greet\tcore_lkm\tEXPORT_SYMBOL_GPL\tNS\n'

describe('Module.symvers', () => {
  test('parses and formats back to the same text', () => {
    const entries = parseSymvers(text)
    expect(entries).toEqual([
      { crc: 0xa83d4555, symbol: 'api_test', module: '/tmp/x/hello_api', exportType: 'EXPORT_SYMBOL', namespace: '' },
      { crc: 0x17ba5186, symbol: 'core_gpl_greet', module: 'core_lkm', exportType: 'EXPORT_SYMBOL_GPL', namespace: 'NS' },
    ])
    expect(formatSymvers(entries)).toBe(text)
  })

  test('changes one symbol: flipped CRC, or GPL-only turned plain', () => {
    const badCrc = changeSymbol(text, 'api_test', (e) => ({ crc: ~e.crc >>> 0 }))
    expect(badCrc.split('\n')[0]).toBe('0x57c2baaa\tapi_test\t/tmp/x/hello_api\tEXPORT_SYMBOL\t')
    expect(badCrc.split('\n')[1]).toBe(text.split('\n')[1])
    const plain = changeSymbol(text, 'core_gpl_greet', () => ({ exportType: 'EXPORT_SYMBOL' }))
    expect(parseSymvers(plain)[1]).toMatchObject({ crc: 0x17ba5186, exportType: 'EXPORT_SYMBOL' })
  })

  test('names what is wrong', () => {
    expect(() => changeSymbol(text, 'nope', () => ({}))).toThrow('symbol nope is not in this Module.symvers (it has: api_test, core_gpl_greet)')
    expect(() => parseSymvers('api_test 0x1\n')).toThrow("Module.symvers line 1 is not 'crc<TAB>symbol<TAB>module<TAB>type'")
  })
})
