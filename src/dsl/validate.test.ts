// Malformed DSL input is refused when the chain is built, in one line that says what to write;
// what can only go wrong while running (a slow RegExp, a model that recurses) fails its step.
import { performance } from 'node:perf_hooks'
import { describe, expect, test } from 'vitest'
import { kernel } from './chain.js'
import { defineModule } from './define.js'
import { KmodspecError } from './errors.js'
import { isProvablySafe, testBounded } from './expect/regex.js'
import { createFakeBackend } from './testing/fake-backend.js'
import { ChainUsageError } from './validate.js'

/** The one-line message a chain call throws as it is made. */
function refusal(build: () => unknown): string {
  try {
    build()
  } catch (e) {
    expect(e).toBeInstanceOf(ChainUsageError)
    expect(e).toBeInstanceOf(KmodspecError)
    const message = (e as Error).message
    expect(message.split('\n')).toHaveLength(1)
    return message
  }
  throw new Error('the call was accepted, but it should have been refused')
}

const chain = () => kernel({ backend: createFakeBackend({ script: [] }), modules: 'fixtures/hello' }).insmod('hello_api')
const any = (v: unknown) => v as never

describe('chain arguments refused at the call, one line each', () => {
  test('expectDmesg(null)', () => {
    expect(refusal(() => chain().expectDmesg(any(null)))).toMatchInlineSnapshot(
      `"kernel(sim).expectDmesg(null): a kernel log pattern must be a string (the whole line) or a RegExp, got null; write expectDmesg('hello: ready'), expectDmesg(/ready$/) or expectDmesg(['line 1', /line 2/])"`,
    )
  })
  test('expectDmesg({})', () => {
    expect(refusal(() => chain().expectDmesg(any({})))).toMatchInlineSnapshot(
      `"kernel(sim).expectDmesg({}): a kernel log pattern must be a string (the whole line) or a RegExp, got {}; write expectDmesg('hello: ready'), expectDmesg(/ready$/) or expectDmesg(['line 1', /line 2/])"`,
    )
  })
  test('expectDmesg with a number inside the list', () => {
    expect(refusal(() => chain().expectDmesg(any(['ok', 42])))).toMatchInlineSnapshot(
      `"kernel(sim).expectDmesg(['ok', 42]): a kernel log pattern must be a string (the whole line) or a RegExp, got 42; write expectDmesg('hello: ready'), expectDmesg(/ready$/) or expectDmesg(['line 1', /line 2/])"`,
    )
  })
  test('expectDmesg([])', () => {
    expect(refusal(() => chain().expectDmesg([]))).toMatchInlineSnapshot(
      `"kernel(sim).expectDmesg([]): an empty list of kernel log lines checks nothing; write expectDmesg('hello: ready'), expectDmesg(/ready$/) or expectDmesg(['line 1', /line 2/])"`,
    )
  })
  test('expectDmesg with an unknown option', () => {
    expect(refusal(() => chain().expectDmesg('x', any({ scpoe: 'run' })))).toMatchInlineSnapshot(
      `"kernel(sim).expectDmesg('x', { scpoe: 'run' }): unknown option 'scpoe'; write { scope: 'run' } or { exact: true }"`,
    )
  })
  test('expectNoDmesg({ test: 1 })', () => {
    expect(refusal(() => chain().expectNoDmesg(any({ test: 1 })))).toMatchInlineSnapshot(
      `"kernel(sim).expectNoDmesg({ test: 1 }): a kernel log pattern must be a string (the whole line) or a RegExp, got { test: 1 }; write expectNoDmesg('the line') or expectNoDmesg(/part of it/)"`,
    )
  })
  test("expectError('no-such-kind')", () => {
    expect(refusal(() => chain().expectError(any('no-such-kind')))).toMatchInlineSnapshot(
      `"kernel(sim).expectError('no-such-kind'): unknown error kind 'no-such-kind'; use one of 'unknown-symbol', 'symbol-version', 'in-use', 'not-loaded', 'already-loaded', 'not-found', 'invalid-format', 'vermagic', 'invalid-params', 'init-failed', 'not-permitted', 'builtin', 'failed'"`,
    )
  })
  test("expectError('builtin', { module: 'unix' }): a detail it cannot check", () => {
    expect(refusal(() => chain().expectError('builtin', any({ module: 'unix' })))).toMatchInlineSnapshot(
      `"kernel(sim).expectError('builtin', { module: 'unix' }): expectError cannot check 'module': its details are symbol, symbols, by, errno, param; leave the other keys out, or check the text with expectOutput()"`,
    )
  })
  test("expectTainted('')", () => {
    expect(refusal(() => chain().expectTainted(''))).toMatchInlineSnapshot(
      `"kernel(sim).expectTainted(''): an empty taint set checks nothing; give the letters to expect, e.g. expectTainted('OE'), or use expectNotTainted()"`,
    )
  })
  test("expectTainted('OZ')", () => {
    expect(refusal(() => chain().expectTainted('OZ'))).toMatch(/^kernel\(sim\)\.expectTainted\('OZ'\): 'Z' is not a taint letter; use letters of P.*O.*E/)
  })
  test('expectOutput(undefined)', () => {
    expect(refusal(() => chain().expectOutput(any(undefined)))).toMatchInlineSnapshot(
      `"kernel(sim).expectOutput(): the output pattern must be a string or a RegExp, got undefined; write expectOutput('text') or expectOutput(/re/)"`,
    )
  })
})

describe('RegExps given to the chain', () => {
  test('a /g RegExp used in two steps matches both times (its lastIndex is never shared)', async () => {
    const backend = createFakeBackend({
      script: [
        { argv: ['insmod', 'fixtures/hello/hello_api.ko'], dmesg: ['[hello_api] Hello, World!'], load: [{ name: 'hello_api' }] },
        { argv: ['rmmod', 'hello_api'], dmesg: ['[hello_api] Hello, World!'] },
      ],
    })
    const hello = /Hello/g
    await kernel({ backend, modules: 'fixtures/hello' })
      .insmod('hello_api')
      .expectDmesg(hello)
      .rmmod('hello_api')
      .expectDmesg(hello)
      .expectNoDmesg(/Goodbye/g)
    expect(hello.lastIndex).toBe(0)
  })

  test('which patterns run directly and which under the time bound', () => {
    expect([/^\[hello_api\] Hello, World!$/, /Unknown symbol (\w+) \(err -2\)/, /a.*b.*c/].map(isProvablySafe)).toEqual([true, true, true])
    expect([/^(a+)+$/, /(x|xy)*z/, /(\w+)\1/, /(?=a)b/, /a*b*c*d*/].map(isProvablySafe)).toEqual([false, false, false, false, false])
  })

  test('a catastrophic pattern fails its step within the bound and names the pattern', async () => {
    const line = `${'a'.repeat(40)}!`
    const start = performance.now()
    expect(() => testBounded(/^(a+)+$/, line)).toThrow(/\/\^\(a\+\)\+\$\/ was still running after 200 ms on "a{40}!"|was still running after 200 ms/)
    expect(performance.now() - start).toBeLessThan(2000)

    const backend = createFakeBackend({ script: [{ argv: ['insmod', 'fixtures/hello/hello_api.ko'], dmesg: [line], load: [{ name: 'hello_api' }] }] })
    const error = await kernel({ backend, modules: 'fixtures/hello' })
      .insmod('hello_api')
      .expectDmesg(/^(a+)+$/)
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(error).toBeInstanceOf(KmodspecError)
    expect((error as KmodspecError).actual).toContain('/^(a+)+$/ was still running after 200 ms')
    expect((error as KmodspecError).message).toContain('kernel(sim).expectDmesg(/^(a+)+$/) failed')
  })
})

describe('a defineModule() model that recurses (simulated kernel)', () => {
  test('stops like the kernel stack overflowing: an oops fails the step, not the test timeout', async () => {
    const loop = defineModule({ name: 'recurse_forever', init: { calls: 'again' }, functions: { again: { calls: ['again', 'again'] } } })
    const start = performance.now()
    const error = await kernel({ modules: [loop] })
      .insmod(loop)
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(performance.now() - start).toBeLessThan(5000)
    expect(error).toBeInstanceOf(KmodspecError)
    expect((error as KmodspecError).message).toContain('BUG: TASK stack guard page was hit')
  })
})
