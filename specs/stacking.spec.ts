// Seed "Kernel Modules Stacking Example": core_lkm exports, client_lkm uses them.
import { expect, test } from 'vitest'
import { kernel } from 'kmodspec'

test('lsmod shows the Used by count and holder; rmmod core_lkm is refused while client_lkm holds it', async () => {
  const run = await kernel({ modules: 'fixtures/stacking' })
    .insmod('core_lkm').expectLoaded('core_lkm', { refcount: 0, holders: [] })
    .run(['lsmod']).expectOutput(/^core_lkm\s+\d+\s+0$/m)
    .insmod('client_lkm')
    .run(['lsmod']).expectOutput(/^client_lkm\s+\d+\s+0$/m).expectOutput(/^core_lkm\s+\d+\s+1 client_lkm$/m)
    .expectRefcount('core_lkm', 1).expectHolders('core_lkm', ['client_lkm']).expectHolders('client_lkm', [])
    .rmmod('core_lkm').expectError('in-use', { by: ['client_lkm'] })
    .expectOutput('rmmod: ERROR: Module core_lkm is in use by: client_lkm')
    .expectLoaded('core_lkm', { refcount: 1 })
    .rmmod('client_lkm').rmmod('core_lkm')
    .expectNotLoaded('client_lkm').expectNotLoaded('core_lkm')
  expect(run.actions.find((a) => a.call === "rmmod('core_lkm')")?.stderr).toBe('rmmod: ERROR: Module core_lkm is in use by: client_lkm\n')
})

test('client_lkm calls into core_lkm when it loads', async () => {
  await kernel({ modules: 'fixtures/stacking' })
    .insmod('core_lkm').expectDmesg('[core_lkm] loaded: exporting core_greet and core_gpl_greet')
    .insmod('client_lkm').expectDmesg(['[client_lkm] loaded: calling core_lkm', '[core_lkm] core_greet() called', '[core_lkm] core_gpl_greet() called'])
    .expectLoadOrder(['core_lkm', 'client_lkm'])
    .rmmod('client_lkm').expectDmesg('[client_lkm] unloaded')
    .rmmod('core_lkm').expectDmesg('[core_lkm] unloaded')
})
