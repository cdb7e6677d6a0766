// Seed "Module Dependency Resolution and Modprobe", parts 2-4: modprobe, depmod, modules_install.
import { expect, test } from 'vitest'
import { kernel } from 'kmodspec'

test('modprobe before the modules are installed: not found in /lib/modules/<release>', async () => {
  const run = await kernel({ modules: 'fixtures/hello' }).modprobe('hello_feature').expectError('not-found').expectNoDmesg(/hello/)
  expect(run.actions[0]!.stderr).toBe(`modprobe: FATAL: Module hello_feature not found in directory /lib/modules/${run.release}\n`)
})

test('after install and depmod, modprobe loads the dependency first; modprobe -r unloads both', async () => {
  const run = await kernel({ modules: 'fixtures/hello' })
    .install('hello_api')
    .install('hello_feature')
    .depmod()
    .expectModinfo('hello_feature', { depends: 'hello_api' })
    .modprobe('hello_feature')
    // Not exact: the first module of a boot also logs the out-of-tree and signature taint lines.
    .expectDmesg(['[hello_api] Hello, World!', '[hello_feature] Hello, World!'])
    .expectLoadOrder(['hello_api', 'hello_feature'])
    .expectLoaded('hello_api', { refcount: 1, holders: ['hello_feature'] })
    .modprobeRemove('hello_feature')
    .expectDmesg(['[hello_api] this is a test message.', '[hello_feature] Bye Bye, World!', '[hello_api] Bye bye, World!'], { exact: true })
    .expectNotLoaded('hello_feature')
    .expectNotLoaded('hello_api')
  expect(run.actions.find((a) => a.call === "modprobe('hello_feature')")?.stderr).toBe('')
})

test('the installed modules load again with modprobe after a remove (modules_install path)', async () => {
  await kernel({ modules: 'fixtures/hello' })
    .install('hello_api')
    .install('hello_feature')
    .depmod()
    .modprobe('hello_feature')
    .modprobeRemove('hello_feature')
    .modprobe('hello_feature')
    .expectDmesg(['[hello_api] Hello, World!', '[hello_feature] Hello, World!'], { exact: true })
    .modprobeRemove('hello_feature')
    .expectNotLoaded('hello_api')
})
