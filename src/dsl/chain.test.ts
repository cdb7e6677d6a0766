import { describe, expect, test } from 'vitest'
import { kernel } from './chain.js'
import { KmodspecError } from './errors.js'
import { createFakeBackend, type ScriptedCommand } from './testing/fake-backend.js'
import { failureOf, shape } from './testing/helpers.js'

// Seed texts (shared/seeds/004): hello_feature alone fails with an unknown symbol.
const featureAlone: ScriptedCommand = {
  argv: ['insmod', 'fixtures/hello/hello_feature.ko'],
  exitCode: 1,
  stderr: 'insmod: ERROR: could not insert module fixtures/hello/hello_feature.ko: Unknown symbol in module\n',
  dmesg: ['hello_feature: Unknown symbol api_test (err -2)'],
}
const apiLoad: ScriptedCommand = { argv: ['insmod', 'fixtures/hello/hello_api.ko'], dmesg: ['[hello_api] Hello, World!'], load: [{ name: 'hello_api' }] }
const featureLoad: ScriptedCommand = {
  argv: ['insmod', 'fixtures/hello/hello_feature.ko'],
  dmesg: ['[hello_feature] Hello, World!'],
  load: [{ name: 'hello_feature', uses: ['hello_api'] }],
}

describe('the chain', () => {
  test('runs the queued steps in order when awaited and leaves a given backend open', async () => {
    const backend = createFakeBackend({ script: [featureAlone, apiLoad, featureLoad] })
    const chain = kernel({ backend, modules: 'fixtures/hello' })
      .insmod('hello_feature')
      .expectError('unknown-symbol', { symbol: 'api_test' })
      .expectDmesg('hello_feature: Unknown symbol api_test (err -2)')
      .insmod('hello_api')
      .expectDmesg('[hello_api] Hello, World!')
      .insmod('hello_feature')
      .expectLoaded('hello_api', { refcount: 1, holders: ['hello_feature'] })
    expect(backend.executed).toEqual([])
    const run = await chain
    expect(run.actions.map((a) => [a.call, a.exitCode, a.error?.kind])).toEqual([
      ["insmod('hello_feature')", 1, 'unknown-symbol'],
      ["insmod('hello_api')", 0, undefined],
      ["insmod('hello_feature')", 0, undefined],
    ])
    expect(run.loadOrder).toEqual(['hello_api', 'hello_feature'])
    expect(run.modules.map((m) => m.name)).toEqual(['hello_feature', 'hello_api'])
    expect(run.transcript.filter((e) => !e.probe).map((e) => e.argv.join(' '))).toEqual([
      'insmod fixtures/hello/hello_feature.ko',
      'insmod fixtures/hello/hello_api.ko',
      'insmod fixtures/hello/hello_feature.ko',
    ])
    expect(backend.closed).toBe(false)
  })

  test('an action that fails with no expectError after it fails the spec at that step', async () => {
    const backend = createFakeBackend({ script: [apiLoad, featureAlone] })
    const error = await failureOf(kernel({ backend, modules: 'fixtures/hello' }).insmod('hello_api').insmod('hello_feature').expectLoaded('hello_feature'))
    expect(error.step?.index).toBe(2)
    expect(shape(error)).toMatchInlineSnapshot(`
      "kernel(sim).insmod('hello_feature') failed

      Step:      2/3
      At:        FILE:LINE:COL
      Expected:  exit 0 (or an expectError() right after this step)
      Received:  exit 1 (unknown-symbol)
                 insmod: ERROR: could not insert module fixtures/hello/hello_feature.ko: Unknown symbol in module

      Transcript
        $ insmod fixtures/hello/hello_api.ko      exit 0
          [hello_api] Hello, World!
      > $ insmod fixtures/hello/hello_feature.ko  exit 1
          insmod: ERROR: could not insert module fixtures/hello/hello_feature.ko: Unknown symbol in module
          hello_feature: Unknown symbol api_test (err -2)"
    `)
  })

  test('the failure points at the spec line that queued the step', async () => {
    const backend = createFakeBackend({ script: [apiLoad] })
    const here = new Error().stack!.split('\n')[1]!
    const line = Number(/:(\d+):\d+\)?$/.exec(here)![1]) + 2
    const error = await failureOf(kernel({ backend, modules: 'fixtures/hello' }).insmod('hello_api').expectNotLoaded('hello_api'))
    expect(error.step?.site?.file).toBe('src/dsl/chain.test.ts')
    expect(error.step?.site?.line).toBe(line)
    expect(error.message).toContain(`At:        src/dsl/chain.test.ts:${line}:`)
    expect(error.stack).toContain(`src/dsl/chain.test.ts:${line}:`)
  })

  test('awaiting a chain twice is an error naming where it first ran', async () => {
    const backend = createFakeBackend({ script: [apiLoad] })
    const chain = kernel({ backend, modules: 'fixtures/hello' }).insmod('hello_api')
    await chain
    const error = await failureOf(chain)
    expect(shape(error).replace(/chain\.test\.ts:\d+/, 'chain.test.ts:N')).toMatchInlineSnapshot(`
      "kernel(sim) chain awaited twice

      Step:      1/1
      At:        FILE:LINE:COL
      Expected:  each chain awaited once
      Received:  the chain started at src/dsl/chain.test.ts:N already ran; keep the result of its first await, or build a new chain with kernel()"
    `)
  })

  test('queueing a step after the chain ran is an error naming the step', async () => {
    const backend = createFakeBackend({ script: [apiLoad] })
    const chain = kernel({ backend, modules: 'fixtures/hello' }).insmod('hello_api')
    await chain
    let error: unknown
    try {
      chain.rmmod('hello_api')
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(KmodspecError)
    expect(shape(error as KmodspecError).replace(/chain\.test\.ts:\d+/, 'chain.test.ts:N')).toMatchInlineSnapshot(`
      "kernel(sim).rmmod('hello_api') was queued after the chain ran

      Step:      2/2
      At:        FILE:LINE:COL
      Expected:  every step queued before the chain is awaited
      Received:  the chain started at src/dsl/chain.test.ts:N already ran; queue every step before awaiting, or start a new chain with kernel()"
    `)
  })

  test('an unknown module name fails its step and lists what is there', async () => {
    const backend = createFakeBackend({ script: [] })
    const error = await failureOf(kernel({ backend, modules: 'fixtures/hello' }).insmod('hello_featur'))
    expect(shape(error)).toMatchInlineSnapshot(`
      "kernel(sim).insmod('hello_featur') failed

      Step:      1/1
      At:        FILE:LINE:COL
      Expected:  a module named hello_featur in fixtures/hello
      Received:  only hello_api, hello_feature (fix the name, or add its directory to modules)

      Transcript
        (no commands ran)"
    `)
  })

  test('a parameter value of a bad type fails its step before anything runs', async () => {
    const backend = createFakeBackend({ script: [] })
    const error = await failureOf(kernel({ backend, modules: 'fixtures/hello' }).insmod('hello_api', { verbose: true as unknown as string }))
    expect(backend.executed.filter((a) => a[0] === 'insmod')).toEqual([])
    expect(shape(error)).toMatchInlineSnapshot(`
      "kernel(sim).insmod('hello_api', { verbose: true }) failed

      Step:      1/1
      At:        FILE:LINE:COL
      Expected:  a string or number for parameter verbose
      Received:  true (boolean) (write 'Y' or 1 for a bool parameter)

      Transcript
        (no commands ran)"
    `)
  })

  test('parameters become name=value words, quoted when they hold spaces', async () => {
    const backend = createFakeBackend({ script: [{ argv: ['insmod', 'fixtures/hello/hello_api.ko', 'count=3', 'name="a b"'], load: [{ name: 'hello_api' }] }] })
    await kernel({ backend, modules: 'fixtures/hello' }).insmod('hello_api', { count: 3, name: 'a b' })
    expect(backend.executed[1]).toEqual(['insmod', 'fixtures/hello/hello_api.ko', 'count=3', 'name="a b"'])
  })

  test('bad options are refused at kernel() with what to do', () => {
    expect(() => kernel({ backend: 'vmware' as 'sim' })).toThrowErrorMatchingInlineSnapshot(`
      [KmodspecError: kernel(): unknown backend 'vmware' (from the backend option): use one of sim, qemu, host, ssh

      Expected:  backend: 'sim' or 'qemu' (or set KMODSPEC_BACKEND to one of them)
      Received:  unknown backend 'vmware' (from the backend option): use one of sim, qemu, host, ssh]
    `)
    expect(() => kernel({ modules: 'x', timout: 5 } as never)).toThrowErrorMatchingInlineSnapshot(`
      [KmodspecError: kernel(): unknown option 'timout'

      Expected:  only backend, modules, release, timeout, cwd, cmdline, tree
      Received:  unknown option 'timout']
    `)
    expect(() => kernel({ timeout: -1 })).toThrowErrorMatchingInlineSnapshot(`
      [KmodspecError: kernel(): timeout must be a positive number of milliseconds, got -1

      Expected:  timeout: 60000
      Received:  timeout must be a positive number of milliseconds, got -1]
    `)
  })
})
