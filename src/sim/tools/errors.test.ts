// kmod's wording on top of the contract's errno table: every errno a defineModule() init may return is worded.
import { expect, test } from 'vitest'
import { defineModule, kernel } from '../../index.js'
import { insmodStrerror, isOpenError, modprobeInsertError } from './errors.js'

test("an init returning ENXIO fails insmod with glibc's text, not 'Unknown error 6'", async () => {
  const m = defineModule({ name: 'errno_enxio', init: { returns: 'ENXIO' } })
  await kernel({ modules: [m], backend: 'sim' })
    .insmod('errno_enxio')
    .expectError('init-failed', { errno: 'ENXIO' })
    .expectOutput(/could not insert module .*errno_enxio\.ko: No such device or address$/m)
})

test('an init returning ENOTEMPTY is matched by expectError by name', async () => {
  const m = defineModule({ name: 'errno_enotempty', init: { returns: 'ENOTEMPTY' } })
  await kernel({ modules: [m], backend: 'sim' })
    .insmod('errno_enotempty')
    .expectError('init-failed', { errno: 'ENOTEMPTY' })
    .expectOutput(/: Directory not empty$/m)
})

test("kmod's own words win over strerror only for the errnos kmod names", () => {
  expect(insmodStrerror(-2)).toBe('Unknown symbol in module')
  expect(insmodStrerror(-6)).toBe('No such device or address')
  expect(modprobeInsertError('m', -17)).toBe("could not insert 'm': Module already in kernel")
  expect(modprobeInsertError('m', -39)).toBe("could not insert 'm': Directory not empty")
  expect([1, 2, 13, 20, 21, 30].every(isOpenError)).toBe(true)
  expect([5, 28].some(isOpenError)).toBe(false)
})
