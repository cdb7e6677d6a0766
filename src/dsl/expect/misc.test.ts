import { describe, expect, test } from 'vitest'
import { kernel } from '../chain.js'
import { createFakeBackend } from '../testing/fake-backend.js'
import { failureOf, shape } from '../testing/helpers.js'

describe('expectModinfo', () => {
  // Seed (shared/seeds/004): `modinfo --field depends hello_feature.ko` prints hello_api.
  const info = { 'fixtures/hello/hello_feature.ko': { depends: ['hello_api'], license: ['GPL'] } }
  const k = () => kernel({ backend: createFakeBackend({ script: [], modinfo: info }), modules: 'fixtures/hello' })

  test('passes on modinfo -F values', async () => {
    await k().expectModinfo('hello_feature', { depends: 'hello_api', license: /GPL/, author: [] })
  })

  test('fails listing each field that differs', async () => {
    expect(shape(await failureOf(k().expectModinfo('hello_feature', { depends: '', license: 'Proprietary' })))).toMatchInlineSnapshot(`
      "kernel(sim).expectModinfo('hello_feature', { depends: '', license: 'Proprietary' }) failed

      Step:      1/1
      At:        FILE:LINE:COL
      Expected:  depends: 
                 license: Proprietary
      Received:  depends: hello_api
                 license: GPL

      Transcript
      > $ modinfo -F depends fixtures/hello/hello_feature.ko  exit 0  (probe)
          hello_api
      > $ modinfo -F license fixtures/hello/hello_feature.ko  exit 0  (probe)
          GPL"
    `)
  })
})

describe('expectTainted', () => {
  const k = (mask: number) =>
    kernel({
      backend: createFakeBackend({ script: [{ argv: ['insmod', 'fixtures/hello/hello_api.ko'], load: [{ name: 'hello_api', taint: 'OE' }], tainted: mask }] }),
      modules: 'fixtures/hello',
    })

  test('passes when the kernel carries the letters (O = 4096, E = 8192)', async () => {
    await k(4096 + 8192)
      .insmod('hello_api')
      .expectTainted('OE')
      .expectTainted('E')
      .expectTainted('OE', { module: 'hello_api' })
  })

  test('fails with the letters it carries', async () => {
    expect(shape(await failureOf(k(4096).insmod('hello_api').expectTainted('P')))).toMatchInlineSnapshot(`
      "kernel(sim).expectTainted('P') failed

      Step:      2/2  after insmod('hello_api')
      At:        FILE:LINE:COL
      Expected:  kernel taint including P
      Received:  kernel taint O

      Transcript
        $ insmod fixtures/hello/hello_api.ko  exit 0
      > $ cat /proc/sys/kernel/tainted        exit 0  (probe)
          4096"
    `)
  })

  test('expectNotTainted fails on any taint', async () => {
    expect((await failureOf(k(4096).insmod('hello_api').expectNotTainted())).actual).toBe('kernel taint O')
  })
})

describe('expectOutput', () => {
  // Seed (shared/seeds/004): modinfo --field depends prints hello_api.
  const k = () =>
    kernel({ backend: createFakeBackend({ script: [{ argv: ['modinfo', '--field', 'depends', 'fixtures/hello/hello_feature.ko'], stdout: 'hello_api\n' }] }) })

  test('passes on a substring or a RegExp of stdout/stderr', async () => {
    await k()
      .run(['modinfo', '--field', 'depends', 'fixtures/hello/hello_feature.ko'])
      .expectOutput('hello_api')
      .expectOutput(/^hello_api$/m)
  })

  test('fails showing the output', async () => {
    expect(shape(await failureOf(k().run(['modinfo', '--field', 'depends', 'fixtures/hello/hello_feature.ko']).expectOutput('core_lkm'))))
      .toMatchInlineSnapshot(`
      "kernel(sim).expectOutput('core_lkm') failed

      Step:      2/2  after run(['modinfo', '--field', 'depends', 'fixtures/hello/hello_feature.ko'])
      At:        FILE:LINE:COL
      Expected:  output containing core_lkm
      Received:  output of run(['modinfo', '--field', 'depends', 'fixtures/hello/hello_feature.ko']):
                 hello_api

      Transcript
        $ modinfo --field depends fixtures/hello/hello_feature.ko  exit 0
          hello_api"
    `)
  })

  test('an expectation before any action says to queue one', async () => {
    expect((await failureOf(kernel({ backend: createFakeBackend({ script: [] }) }).expectOutput('x'))).actual).toBe(
      'no action before this step (queue insmod(), modprobe(), run()... first)',
    )
  })
})
