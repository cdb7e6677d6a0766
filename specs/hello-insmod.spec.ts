// Seed "Module Dependency Resolution and Modprobe", part 1: insmod and rmmod by hand.
import { expect, test } from 'vitest'
import { kernel } from 'kmodspec'

test('insmod in dependency order, rmmod in reverse, with the exact kernel log', async () => {
  await kernel({ modules: 'fixtures/hello' })
    .insmod('hello_api')
    .expectDmesg('[hello_api] Hello, World!')
    .insmod('hello_feature')
    .expectDmesg('[hello_feature] Hello, World!', { exact: true })
    .expectLoaded('hello_api', { refcount: 1, holders: ['hello_feature'] })
    .rmmod('hello_feature')
    .expectDmesg(['[hello_api] this is a test message.', '[hello_feature] Bye Bye, World!'], { exact: true })
    .rmmod('hello_api')
    .expectDmesg('[hello_api] Bye bye, World!', { exact: true })
    .expectDmesg(
      [
        '[hello_api] Hello, World!',
        '[hello_feature] Hello, World!',
        '[hello_api] this is a test message.',
        '[hello_feature] Bye Bye, World!',
        '[hello_api] Bye bye, World!',
      ],
      { scope: 'run' },
    )
    .expectNotLoaded('hello_feature')
    .expectNotLoaded('hello_api')
})

test('hello_feature alone fails: insmod does no dependency resolution', async () => {
  const run = await kernel({ modules: 'fixtures/hello' })
    .insmod('hello_feature')
    .expectError('unknown-symbol', { symbol: 'api_test' })
    .expectDmesg('hello_feature: Unknown symbol api_test (err -2)')
    .expectOutput(/^insmod: ERROR: could not insert module \S*hello_feature\.ko: Unknown symbol in module$/m)
    .expectNotLoaded('hello_feature')
  // The path is the module file insmod was given: fixtures/hello on 6.1, that release's build of it on others.
  expect(run.actions[0]!.stderr).toMatch(/^insmod: ERROR: could not insert module \S*fixtures\/hello\/hello_feature\.ko: Unknown symbol in module\n$/)
})

test('modinfo --field depends names hello_api', async () => {
  await kernel({ modules: 'fixtures/hello' })
    .expectModinfo('hello_feature', { depends: 'hello_api' })
    .expectModinfo('hello_api', { depends: '' })
    .run(['modinfo', '--field', 'depends', 'fixtures/hello/hello_feature.ko'])
    .expectOutput(/^hello_api$/m)
})
