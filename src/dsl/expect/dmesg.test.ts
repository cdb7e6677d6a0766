import { describe, expect, test } from 'vitest'
import { kernel } from '../chain.js'
import { createFakeBackend, type ScriptedCommand } from '../testing/fake-backend.js'
import { failureOf, shape } from '../testing/helpers.js'

// Seed texts (shared/seeds/004).
const apiLoad: ScriptedCommand = { argv: ['insmod', 'fixtures/hello/hello_api.ko'], dmesg: ['[hello_api] Hello, World!'], load: [{ name: 'hello_api' }] }
const featureLoad: ScriptedCommand = {
  argv: ['insmod', 'fixtures/hello/hello_feature.ko'],
  dmesg: ['[hello_feature] Hello, World!'],
  load: [{ name: 'hello_feature', uses: ['hello_api'] }],
}
const featureUnload: ScriptedCommand = {
  argv: ['rmmod', 'hello_feature'],
  dmesg: ['[hello_api] this is a test message.', '[hello_feature] Bye Bye, World!'],
  unload: ['hello_feature'],
}
const hello = () => kernel({ backend: createFakeBackend({ script: [apiLoad, featureLoad, featureUnload] }), modules: 'fixtures/hello' })

describe('expectDmesg', () => {
  test('passes when the previous action logged the lines in order (string: whole line, RegExp: a match)', async () => {
    await hello()
      .insmod('hello_api')
      .insmod('hello_feature')
      .rmmod('hello_feature')
      .expectDmesg(['[hello_api] this is a test message.', /Bye Bye/])
      .expectDmesg(['[hello_api] this is a test message.', '[hello_feature] Bye Bye, World!'], { exact: true })
      .expectDmesg(['[hello_api] Hello, World!', '[hello_feature] Hello, World!', /Bye Bye/], { scope: 'run' })
  })

  test('fails on lines out of order, showing what the action logged', async () => {
    const error = await failureOf(
      hello()
        .insmod('hello_api')
        .insmod('hello_feature')
        .rmmod('hello_feature')
        .expectDmesg(['[hello_feature] Bye Bye, World!', '[hello_api] this is a test message.']),
    )
    expect(shape(error)).toMatchInlineSnapshot(`
      "kernel(sim).expectDmesg(['[hello_feature] Bye Bye, World!', '[hello_api] this is a test message.']) failed

      Step:      4/4  after rmmod('hello_feature')
      At:        FILE:LINE:COL
      Expected:  these kernel log lines, in order:
                 [hello_feature] Bye Bye, World!
                 [hello_api] this is a test message.
      Received:  kernel log of rmmod('hello_feature'):
                 [hello_api] this is a test message.
                 [hello_feature] Bye Bye, World!

      Transcript
        $ insmod fixtures/hello/hello_api.ko      exit 0
          [hello_api] Hello, World!
        $ insmod fixtures/hello/hello_feature.ko  exit 0
          [hello_feature] Hello, World!
        $ rmmod hello_feature                     exit 0
          [hello_api] this is a test message.
          [hello_feature] Bye Bye, World!"
    `)
  })

  test('looks only at the previous action unless widened to the run', async () => {
    const error = await failureOf(hello().insmod('hello_api').insmod('hello_feature').expectDmesg('[hello_api] Hello, World!'))
    expect(shape(error)).toMatchInlineSnapshot(`
      "kernel(sim).expectDmesg('[hello_api] Hello, World!') failed

      Step:      3/3  after insmod('hello_feature')
      At:        FILE:LINE:COL
      Expected:  these kernel log lines, in order:
                 [hello_api] Hello, World!
      Received:  kernel log of insmod('hello_feature'):
                 [hello_feature] Hello, World!

      Transcript
        $ insmod fixtures/hello/hello_api.ko      exit 0
          [hello_api] Hello, World!
        $ insmod fixtures/hello/hello_feature.ko  exit 0
          [hello_feature] Hello, World!"
    `)
  })

  test('exact refuses extra lines', async () => {
    const error = await failureOf(
      hello().insmod('hello_api').insmod('hello_feature').rmmod('hello_feature').expectDmesg('[hello_feature] Bye Bye, World!', { exact: true }),
    )
    expect(error.expected).toContain('exactly these kernel log lines')
  })
})

describe('expectNoDmesg', () => {
  test('passes when no line matches', async () => {
    await hello()
      .insmod('hello_api')
      .expectNoDmesg(/Unknown symbol/)
  })

  test('fails listing the matching lines', async () => {
    const error = await failureOf(hello().insmod('hello_api').expectNoDmesg(/Hello/))
    expect(shape(error)).toMatchInlineSnapshot(`
      "kernel(sim).expectNoDmesg(/Hello/) failed

      Step:      2/2  after insmod('hello_api')
      At:        FILE:LINE:COL
      Expected:  no kernel log line matching /Hello/
      Received:  kernel log of insmod('hello_api') has:
                 [hello_api] Hello, World!

      Transcript
        $ insmod fixtures/hello/hello_api.ko  exit 0
          [hello_api] Hello, World!"
    `)
  })
})
