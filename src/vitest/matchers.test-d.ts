import { describe, expectTypeOf, test, expect } from 'vitest'
import type { ErrorDetails, ErrorKind, KernelRun, LinePattern, LoadedOptions } from '../dsl/index.js'
import { useKernel } from './index.js'

describe('kmodspec/vitest types', () => {
  test('matchers are typed on expect()', () => {
    const run = {} as KernelRun
    expectTypeOf(expect(run).toHaveLoaded).parameters.toEqualTypeOf<[name: string, options?: LoadedOptions]>()
    expectTypeOf(expect(run).toHaveRefcount).parameters.toEqualTypeOf<[name: string, refcount: number]>()
    expectTypeOf(expect(run).toHaveHolders).parameters.toEqualTypeOf<[name: string, holders: string[]]>()
    expectTypeOf(expect(run).toHaveLogged).parameter(0).toEqualTypeOf<string | RegExp | Array<string | RegExp>>()
    expectTypeOf(expect(run).toHaveDmesg).parameters.toEqualTypeOf<[lines: LinePattern | LinePattern[], options?: { exact?: boolean }]>()
    expectTypeOf(expect(run).toHaveError).parameters.toEqualTypeOf<[kind: ErrorKind, details?: ErrorDetails]>()
    expectTypeOf(expect(run).not.toHaveTainted).parameters.toEqualTypeOf<[flags?: string]>()
    expectTypeOf(expect(run).toHaveOutput).parameters.toEqualTypeOf<[pattern: string | RegExp]>()
    // @ts-expect-error: not an error kind
    expect(run).toHaveFailedWith('segfault')
    // @ts-expect-error: not an error kind
    expect(run).not.toHaveError('segfault')
    // @ts-expect-error: expectError's details only
    expect(run).toHaveError('in-use', { holders: ['x'] })
    // @ts-expect-error: refcount is a number
    expect(run).toHaveRefcount('x', '1')
  })

  test('useKernel returns a chain factory whose await gives a KernelRun', () => {
    const k = useKernel({ modules: 'fixtures/hello' })
    expectTypeOf(k().insmod('hello_api')).resolves.toEqualTypeOf<KernelRun>()
    // @ts-expect-error: params take strings and numbers
    k().insmod('hello_api', { verbose: true })
    // @ts-expect-error: useKernel owns its backend: a name, not an instance
    useKernel({ backend: {} as import('../dsl/index.js').Backend })
  })
})
