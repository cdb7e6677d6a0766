import { describe, expect, test } from 'vitest'
import { kernel } from '../chain.js'
import { createFakeBackend, type ScriptedCommand } from '../testing/fake-backend.js'
import { failureOf, shape } from '../testing/helpers.js'

// Seed (shared/seeds/000): client_lkm uses core_lkm; lsmod shows `core_lkm 16384 1 client_lkm`.
const core: ScriptedCommand = { argv: ['insmod', 'fixtures/stacking/core/core_lkm.ko'], load: [{ name: 'core_lkm' }] }
const client: ScriptedCommand = { argv: ['insmod', 'fixtures/stacking/client/client_lkm.ko'], load: [{ name: 'client_lkm', size: 20480, uses: ['core_lkm'] }] }
const stack = () =>
  kernel({ backend: createFakeBackend({ script: [core, client] }), modules: 'fixtures/stacking' })
    .insmod('core_lkm')
    .insmod('client_lkm')

describe('expectLoaded / expectNotLoaded', () => {
  test('pass on /proc/modules', async () => {
    await stack()
      .expectLoaded('core_lkm', { refcount: 1, holders: ['client_lkm'] })
      .expectLoaded('client_lkm', { refcount: 0 })
      .expectNotLoaded('hello_api')
  })

  test('expectLoaded fails with the refcount and holders the kernel shows', async () => {
    expect(shape(await failureOf(stack().expectLoaded('core_lkm', { refcount: 0, holders: [] })))).toMatchInlineSnapshot(`
      "kernel(sim).expectLoaded('core_lkm', { refcount: 0, holders: [] }) failed

      Step:      3/3  after insmod('client_lkm')
      At:        FILE:LINE:COL
      Expected:  core_lkm loaded, refcount 0, holders []
      Received:  core_lkm loaded, refcount 1, holders [client_lkm]

      Transcript
        $ insmod fixtures/stacking/core/core_lkm.ko      exit 0
        $ insmod fixtures/stacking/client/client_lkm.ko  exit 0
      > $ cat /proc/modules                              exit 0  (probe)
          client_lkm 20480 0 - Live 0x0000000000000000
          core_lkm 16384 1 client_lkm, Live 0x0000000000000000"
    `)
  })

  test('expectLoaded fails listing what is loaded', async () => {
    expect(shape(await failureOf(stack().expectLoaded('hello_api')))).toMatchInlineSnapshot(`
      "kernel(sim).expectLoaded('hello_api') failed

      Step:      3/3  after insmod('client_lkm')
      At:        FILE:LINE:COL
      Expected:  hello_api loaded
      Received:  hello_api is not loaded (loaded: client_lkm, core_lkm)

      Transcript
        $ insmod fixtures/stacking/core/core_lkm.ko      exit 0
        $ insmod fixtures/stacking/client/client_lkm.ko  exit 0
      > $ cat /proc/modules                              exit 0  (probe)
          client_lkm 20480 0 - Live 0x0000000000000000
          core_lkm 16384 1 client_lkm, Live 0x0000000000000000"
    `)
  })

  test('expectNotLoaded fails showing the module', async () => {
    expect(shape(await failureOf(stack().expectNotLoaded('core_lkm')))).toMatchInlineSnapshot(`
      "kernel(sim).expectNotLoaded('core_lkm') failed

      Step:      3/3  after insmod('client_lkm')
      At:        FILE:LINE:COL
      Expected:  core_lkm not loaded
      Received:  core_lkm is loaded (Live), refcount 1, holders [client_lkm]

      Transcript
        $ insmod fixtures/stacking/core/core_lkm.ko      exit 0
        $ insmod fixtures/stacking/client/client_lkm.ko  exit 0
      > $ cat /proc/modules                              exit 0  (probe)
          client_lkm 20480 0 - Live 0x0000000000000000
          core_lkm 16384 1 client_lkm, Live 0x0000000000000000"
    `)
  })
})

describe('expectRefcount / expectHolders (sysfs)', () => {
  test('pass', async () => {
    await stack().expectRefcount('core_lkm', 1).expectHolders('core_lkm', ['client_lkm']).expectHolders('client_lkm', [])
  })

  test('expectRefcount fails with the refcnt value', async () => {
    expect(shape(await failureOf(stack().expectRefcount('core_lkm', 2)))).toMatchInlineSnapshot(`
      "kernel(sim).expectRefcount('core_lkm', 2) failed

      Step:      3/3  after insmod('client_lkm')
      At:        FILE:LINE:COL
      Expected:  refcount 2
      Received:  refcount 1

      Transcript
        $ insmod fixtures/stacking/core/core_lkm.ko      exit 0
        $ insmod fixtures/stacking/client/client_lkm.ko  exit 0
      > $ cat /sys/module/core_lkm/refcnt                exit 0  (probe)
          1"
    `)
  })

  test('expectRefcount of a module not loaded says so', async () => {
    expect((await failureOf(stack().expectRefcount('nope', 0))).actual).toBe('no /sys/module/nope/refcnt (nope is not loaded)')
  })

  test('expectHolders fails with the holders listed', async () => {
    expect(shape(await failureOf(stack().expectHolders('core_lkm', ['hello_feature'])))).toMatchInlineSnapshot(`
      "kernel(sim).expectHolders('core_lkm', ['hello_feature']) failed

      Step:      3/3  after insmod('client_lkm')
      At:        FILE:LINE:COL
      Expected:  holders [hello_feature]
      Received:  holders [client_lkm]

      Transcript
        $ insmod fixtures/stacking/core/core_lkm.ko      exit 0
        $ insmod fixtures/stacking/client/client_lkm.ko  exit 0
      > $ ls /sys/module/core_lkm/holders                exit 0  (probe)
          client_lkm"
    `)
  })
})

describe('expectLoadOrder', () => {
  test('passes in the order the modules appeared', async () => {
    await stack().expectLoadOrder(['core_lkm', 'client_lkm'])
  })

  test('fails with the order the kernel showed', async () => {
    expect(shape(await failureOf(stack().expectLoadOrder(['client_lkm', 'core_lkm'])))).toMatchInlineSnapshot(`
      "kernel(sim).expectLoadOrder(['client_lkm', 'core_lkm']) failed

      Step:      3/3  after insmod('client_lkm')
      At:        FILE:LINE:COL
      Expected:  load order ['client_lkm', 'core_lkm']
      Received:  load order ['core_lkm', 'client_lkm']

      Transcript
        $ insmod fixtures/stacking/core/core_lkm.ko      exit 0
        $ insmod fixtures/stacking/client/client_lkm.ko  exit 0"
    `)
  })

  test('counts modules a modprobe loaded in one go in their load order (/proc/modules lists newest first)', async () => {
    const backend = createFakeBackend({
      script: [{ argv: ['modprobe', 'hello_feature'], load: [{ name: 'hello_api' }, { name: 'hello_feature', uses: ['hello_api'] }] }],
    })
    const run = await kernel({ backend }).modprobe('hello_feature').expectLoadOrder(['hello_api', 'hello_feature'])
    expect(run.loadOrder).toEqual(['hello_api', 'hello_feature'])
  })
})
