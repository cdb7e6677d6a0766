import { describe, expect, test } from 'vitest'
import { kernel } from '../dsl/index.js'
import { createFakeBackend } from '../dsl/testing/fake-backend.js'
import './index.js'

// Seed texts (shared/seeds/000 and 004).
const stackRun = () => kernel({
  backend: createFakeBackend({ script: [
    { argv: ['insmod', 'fixtures/stacking/core/core_lkm.ko'], load: [{ name: 'core_lkm' }], tainted: 4096 },
    { argv: ['insmod', 'fixtures/stacking/client/client_lkm.ko'], load: [{ name: 'client_lkm', uses: ['core_lkm'] }] },
    { argv: ['rmmod', 'core_lkm'], exitCode: 1, stderr: 'rmmod: ERROR: Module core_lkm is in use by: client_lkm\n' },
  ] }),
  modules: 'fixtures/stacking',
}).insmod('core_lkm').insmod('client_lkm').rmmod('core_lkm').expectError('in-use', { by: ['client_lkm'] })

const failure = (fn: () => void): string => {
  try {
    fn()
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('the matcher passed')
}

describe('kmodspec/vitest matchers', () => {
  test('toHaveLoaded', async () => {
    const run = await stackRun()
    expect(run).toHaveLoaded('core_lkm')
    expect(run).not.toHaveLoaded('hello_api')
    expect(failure(() => expect(run).toHaveLoaded('hello_api'))).toMatchInlineSnapshot(`"expected hello_api to be loaded at the end of the run; loaded: client_lkm, core_lkm"`)
  })

  test('toHaveRefcount', async () => {
    const run = await stackRun()
    expect(run).toHaveRefcount('core_lkm', 1)
    expect(failure(() => expect(run).toHaveRefcount('core_lkm', 0))).toMatchInlineSnapshot(`"expected core_lkm to have refcount 0; it has 1"`)
  })

  test('toHaveHolders', async () => {
    const run = await stackRun()
    expect(run).toHaveHolders('core_lkm', ['client_lkm'])
    expect(failure(() => expect(run).toHaveHolders('client_lkm', ['core_lkm']))).toMatchInlineSnapshot(`"expected client_lkm to be held by [core_lkm]; held by []"`)
  })

  test('toHaveLogged', async () => {
    const run = await kernel({ backend: createFakeBackend({ script: [{ argv: ['insmod', 'fixtures/hello/hello_api.ko'], dmesg: ['[hello_api] Hello, World!'], load: [{ name: 'hello_api' }] }] }), modules: 'fixtures/hello' }).insmod('hello_api')
    expect(run).toHaveLogged('[hello_api] Hello, World!')
    expect(run).toHaveLogged([/Hello/])
    expect(failure(() => expect(run).toHaveLogged('[hello_api] Bye bye, World!'))).toMatchInlineSnapshot(`
      "expected the kernel log to have, in order:
        [hello_api] Bye bye, World!
      kernel log of the run:
        [hello_api] Hello, World!"
    `)
  })

  test('toHaveFailedWith', async () => {
    const run = await stackRun()
    expect(run).toHaveFailedWith('in-use', "rmmod('core_lkm')")
    expect(failure(() => expect(run).toHaveFailedWith('not-loaded'))).toMatchInlineSnapshot(`
      "expected an action to fail with not-loaded; actions:
        insmod('core_lkm'): ok
        insmod('client_lkm'): ok
        rmmod('core_lkm'): in-use"
    `)
  })

  test('toHaveTaint', async () => {
    const run = await stackRun()
    expect(run).toHaveTaint('O')
    expect(failure(() => expect(run).toHaveTaint('P'))).toMatchInlineSnapshot(`"expected the kernel to be tainted P; taint: O"`)
  })

  test('toHaveLoadOrder', async () => {
    const run = await stackRun()
    expect(run).toHaveLoadOrder(['core_lkm', 'client_lkm'])
    expect(failure(() => expect(run).toHaveLoadOrder(['client_lkm', 'core_lkm']))).toMatchInlineSnapshot(`"expected load order to be [client_lkm, core_lkm]; it was [core_lkm, client_lkm]"`)
  })

  test('a matcher given something else than a run says what to pass', () => {
    expect(failure(() => expect(kernel({ backend: createFakeBackend({ script: [] }) })).toHaveLoaded('x'))).toMatchInlineSnapshot(`"toHaveLoaded() needs the result of awaiting a kernel() chain, got KernelChain: write expect(await kernel()...).toHaveLoaded(...)"`)
  })
})
