// One spec per error kind: each is decided from what kmod and the kernel printed.
import { describe, test } from 'vitest'
import { kernel } from 'kmodspec'

const k = () => kernel({ modules: ['fixtures/hello', 'fixtures/stacking', 'fixtures/errors'] })

describe('error kinds', () => {
  test('unknown-symbol: a module whose dependency is not loaded', async () => {
    await k()
      .insmod('hello_feature')
      .expectError('unknown-symbol', { symbols: ['api_test'] })
  })

  test('unknown-symbol: a proprietary module using a GPL-only export (the kernel does not resolve it)', async () => {
    await k()
      .insmod('core_lkm')
      .insmod('gpl_user')
      .expectError('unknown-symbol', { symbol: 'core_gpl_greet' })
      .expectLoaded('core_lkm', { refcount: 0 })
      .rmmod('core_lkm')
  })

  test('symbol-version: a modversions CRC that disagrees with the exporter', async () => {
    await k()
      .insmod('hello_api')
      .insmod('crc_mismatch')
      .expectError('symbol-version', { symbol: 'api_test' })
      .expectDmesg(/disagrees about version of symbol api_test/)
      .expectNotLoaded('crc_mismatch')
      .rmmod('hello_api')
  })

  test('in-use: removing a module another one holds', async () => {
    await k()
      .insmod('hello_api')
      .insmod('hello_feature')
      .rmmod('hello_api')
      .expectError('in-use', { by: 'hello_feature' })
      .rmmod('hello_feature')
      .rmmod('hello_api')
  })

  test('not-loaded: removing a module that is not loaded', async () => {
    await k().rmmod('hello_api').expectError('not-loaded')
  })

  test('already-loaded: inserting a module twice', async () => {
    await k().insmod('hello_api').insmod('hello_api').expectError('already-loaded').expectLoaded('hello_api').rmmod('hello_api')
  })

  test('not-found: modprobe of a module not in /lib/modules', async () => {
    await k().modprobe('no_such_module').expectError('not-found')
  })

  test('invalid-format: a file that is not ELF, and a truncated module', async () => {
    await k().insmod('not_elf').expectError('invalid-format').insmod('truncated').expectError('invalid-format')
  })

  test('vermagic: a module built for another kernel is an invalid format too', async () => {
    await k().insmod('bad_vermagic').expectError('vermagic').insmod('bad_vermagic').expectError('invalid-format')
  })

  test('invalid-params: a value the parameter cannot take', async () => {
    await k().insmod('params', { count: 'many' }).expectError('invalid-params', { param: 'count' }).expectNotLoaded('params')
  })

  test('init-failed: init returns -ENODEV', async () => {
    await k()
      .insmod('init_fail')
      .expectError('init-failed', { errno: 'ENODEV' })
      .expectDmesg('[init_fail] init fails with -ENODEV')
      .expectNotLoaded('init_fail')
  })
})
