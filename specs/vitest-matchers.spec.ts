// kmodspec/vitest: one kernel per file, reset before each test, and matchers on the run.
import { expect, test } from 'vitest'
import { useKernel } from 'kmodspec/vitest'

const k = useKernel({ modules: ['fixtures/hello', 'fixtures/stacking'] })

test('a run can be checked with matchers', async () => {
  const run = await k().insmod('core_lkm').insmod('client_lkm').rmmod('core_lkm').expectError('in-use')
  expect(run).toHaveLoaded('client_lkm')
  expect(run).toHaveRefcount('core_lkm', 1)
  expect(run).toHaveHolders('core_lkm', ['client_lkm'])
  expect(run).toHaveLoadOrder(['core_lkm', 'client_lkm'])
  expect(run).toHaveError('in-use', { by: ['client_lkm'] })
  expect(run).toHaveDmesg(['[client_lkm] loaded: calling core_lkm', '[core_lkm] core_greet() called'])
  expect(run).toHaveTainted('O')
})

test('each test starts on a pristine kernel', async () => {
  const run = await k().insmod('hello_api')
  expect(run).not.toHaveLoaded('core_lkm')
  expect(run.modules.map((m) => m.name)).toEqual(['hello_api'])
})

test('two chains in one test share the kernel', async () => {
  await k().insmod('hello_api')
  expect(await k().insmod('hello_feature')).toHaveRefcount('hello_api', 1)
})
