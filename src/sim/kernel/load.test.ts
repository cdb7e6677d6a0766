// Loader paths the VM captures do not reach: syscall argument checks (kernel/module/main.c 6.1),
// behaviour overrides, /proc and /sys views of a module that is not loaded.
import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { loadEmbeddedProfile } from '../../profile/index.js'
import { createSimKernel } from './index.js'

const profile = loadEmbeddedProfile()
const api = readFileSync('fixtures/hello/hello_api.ko')

describe('syscall surface', () => {
  test('init_module refuses an image shorter than an ELF header without a log line', () => {
    const k = createSimKernel({ profile })
    expect(k.initModule(new Uint8Array(10), '')).toBe(-8)
    expect(k.log.since(0)).toEqual([])
  })

  test('finit_module checks flags first, then the file: unknown flags and empty files are -EINVAL', () => {
    const k = createSimKernel({ profile })
    expect(k.finitModule(api, '', 8)).toBe(-22)
    expect(k.finitModule(new Uint8Array(0), '', 0)).toBe(-22)
    expect(k.finitModule(api, '', 4)).toBe(-95)
    expect(k.readFile('/proc/modules')).toBe('')
  })

  test('modules_disabled turns loading and unloading off for good', () => {
    const k = createSimKernel({ profile })
    expect(k.finitModule(api, '', 0)).toBe(0)
    expect(k.writeFile('/proc/sys/kernel/modules_disabled', '1\n')).toBe(0)
    expect(k.writeFile('/proc/sys/kernel/modules_disabled', '0\n')).toBe(-22)
    expect(k.deleteModule('hello_api', 0)).toBe(-1)
    expect(k.initModule(api, '')).toBe(-1)
  })

  test('delete_module: empty and over-long names are -ENOENT', () => {
    const k = createSimKernel({ profile })
    expect(k.deleteModule('', 0)).toBe(-2)
    expect(k.deleteModule('x'.repeat(56), 0)).toBe(-2)
  })

  test('an override replaces what the binary shows: its init result decides the load', () => {
    const overrides = new Map([['hello_api', { init: { actions: [{ print: '\u00013[hello_api] overridden\n' }], returns: -12 }, functions: {} }]])
    const k = createSimKernel({ profile, overrides })
    expect(k.finitModule(api, '', 0)).toBe(-12)
    expect(k.log.since(0).at(-1)).toMatchObject({ level: 3, text: '[hello_api] overridden' })
    // only the 64 built-in modules the captured 6.1 kernel shows there: nothing loaded
    expect(k.listDir('/sys/module')).toHaveLength(64)
    expect(k.readFile('/sys/module/printk/initstate')).toBeUndefined()
    expect(k.readFile('/sys/module/hello_api/refcnt')).toBeUndefined()
  })

  test('a loaded module shows in /sys/module with its attributes; timestamps never go back', () => {
    const k = createSimKernel({ profile, bootTimeUs: 1_000_000 })
    k.finitModule(api, '', 0)
    expect(k.listDir('/sys/module')).toContain('hello_api')
    expect(k.listDir('/sys/module')).toHaveLength(65)
    expect(k.listDir('/sys/module/hello_api')).toContain('refcnt')
    expect(k.readFile('/sys/module/hello_api/initstate')).toBe('live\n')
    expect(k.readFile('/sys/module/hello_api/initsize')).toBe('0\n')
    const ts = k.log.since(0).map((r) => r.timestampUs)
    expect(ts[0]).toBeGreaterThan(1_000_000)
    expect([...ts].sort((a, b) => a - b)).toEqual(ts)
  })
})
