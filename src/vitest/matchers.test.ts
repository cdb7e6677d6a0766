// The matchers: each passes and fails, `.not` inverts both ways, the deprecated names still work, and
// a matcher and the chain's expectation of the same name agree on the same run (one check each).
import stripAnsi from 'strip-ansi'
import { describe, expect, test } from 'vitest'
import { kernel, KmodspecError, type KernelChain, type KernelRun } from '../dsl/index.js'
import { createFakeBackend, type ScriptedCommand } from '../dsl/testing/fake-backend.js'
import './index.js'

// Seed texts (shared/seeds/000 and 004).
const stackScript = (): ScriptedCommand[] => [
  {
    argv: ['insmod', 'fixtures/stacking/core/core_lkm.ko'],
    load: [{ name: 'core_lkm' }],
    tainted: 4096,
    dmesg: ['[core_lkm] loaded: exporting core_greet and core_gpl_greet'],
  },
  {
    argv: ['insmod', 'fixtures/stacking/client/client_lkm.ko'],
    load: [{ name: 'client_lkm', uses: ['core_lkm'] }],
    dmesg: ['[client_lkm] loaded: calling core_lkm', '[core_lkm] core_greet() called'],
  },
  { argv: ['rmmod', 'core_lkm'], exitCode: 1, stderr: 'rmmod: ERROR: Module core_lkm is in use by: client_lkm\n' },
]
/** The seed-2 chain on a scripted kernel; `more` adds expectations at its end. */
const stack = (more: (c: KernelChain) => KernelChain = (c) => c) =>
  more(
    kernel({ backend: createFakeBackend({ script: stackScript() }), modules: 'fixtures/stacking' })
      .insmod('core_lkm')
      .insmod('client_lkm')
      .rmmod('core_lkm')
      .expectError('in-use', { by: ['client_lkm'] }),
  )

/** The message of a failing assertion, without colours. */
const failure = (fn: () => void): string => {
  try {
    fn()
  } catch (error) {
    return stripAnsi((error as Error).message)
  }
  throw new Error('the matcher passed')
}

describe('each matcher passes, fails with Expected/Received, and inverts with .not', () => {
  test('toHaveLoaded (expectLoaded; .not: expectNotLoaded)', async () => {
    const run = await stack()
    expect(run).toHaveLoaded('core_lkm', { refcount: 1, holders: ['client_lkm'] })
    expect(run).not.toHaveLoaded('hello_api')
    expect(failure(() => expect(run).toHaveLoaded('hello_api'))).toMatchInlineSnapshot(`
      "expect(run).toHaveLoaded(name)

      Expected: hello_api loaded
      Received: hello_api is not loaded (loaded: client_lkm, core_lkm)"
    `)
    expect(failure(() => expect(run).not.toHaveLoaded('core_lkm'))).toMatchInlineSnapshot(`
      "expect(run).not.toHaveLoaded(name)

      Expected: not core_lkm loaded
      Received: core_lkm loaded, refcount 1, holders [client_lkm]"
    `)
  })

  test('toHaveRefcount, toHaveHolders, toHaveLoadOrder', async () => {
    const run = await stack()
    expect(run).toHaveRefcount('core_lkm', 1)
    expect(run).not.toHaveRefcount('core_lkm', 0)
    expect(failure(() => expect(run).toHaveRefcount('core_lkm', 0))).toMatchInlineSnapshot(`
      "expect(run).toHaveRefcount(name, refcount)

      Expected: refcount 0
      Received: refcount 1"
    `)
    expect(failure(() => expect(run).not.toHaveRefcount('core_lkm', 1))).toContain('Expected: not refcount 1')
    expect(run).toHaveHolders('core_lkm', ['client_lkm'])
    expect(run).not.toHaveHolders('client_lkm', ['core_lkm'])
    expect(failure(() => expect(run).toHaveHolders('client_lkm', ['core_lkm']))).toContain('Expected: holders [core_lkm]\nReceived: holders []')
    expect(failure(() => expect(run).toHaveHolders('hello_api', []))).toContain('Received: hello_api is not loaded')
    expect(run).toHaveLoadOrder(['core_lkm', 'client_lkm'])
    expect(run).not.toHaveLoadOrder(['client_lkm', 'core_lkm'])
    expect(failure(() => expect(run).toHaveLoadOrder(['client_lkm', 'core_lkm']))).toContain(
      "Expected: load order ['client_lkm', 'core_lkm']\nReceived: load order ['core_lkm', 'client_lkm']",
    )
  })

  test('toHaveDmesg (expectDmesg over the run; exact)', async () => {
    const run = await stack()
    expect(run).toHaveDmesg('[client_lkm] loaded: calling core_lkm')
    expect(run).toHaveDmesg([/exporting/, '[core_lkm] core_greet() called'])
    expect(run).not.toHaveDmesg('[core_lkm] core_greet() called', { exact: true })
    expect(run).not.toHaveDmesg(/Bye/)
    expect(failure(() => expect(run).toHaveDmesg('[core_lkm] bye'))).toMatchInlineSnapshot(`
      "expect(run).toHaveDmesg(lines)

      Expected: these kernel log lines, in order:
                [core_lkm] bye
      Received: kernel log of the run:
                [core_lkm] loaded: exporting core_greet and core_gpl_greet
                [client_lkm] loaded: calling core_lkm
                [core_lkm] core_greet() called

      - Expected
      + Received

        [
      -   "[core_lkm] bye",
      +   "[core_lkm] loaded: exporting core_greet and core_gpl_greet",
      +   "[client_lkm] loaded: calling core_lkm",
      +   "[core_lkm] core_greet() called",
        ]"
    `)
    expect(failure(() => expect(run).not.toHaveDmesg(/greet\(\)/))).toContain('Expected: not these kernel log lines, in order:\n          /greet\\(\\)/')
    expect(() => expect(run).toHaveDmesg([])).toThrow('toHaveDmesg(): an empty list of kernel log lines checks nothing')
  })

  test('toHaveError (expectError on any action)', async () => {
    const run = await stack()
    expect(run).toHaveError('in-use', { by: 'client_lkm' })
    expect(run).not.toHaveError('in-use', { by: 'hello_feature' })
    expect(run).not.toHaveError('not-loaded')
    expect(failure(() => expect(run).toHaveError('not-loaded'))).toMatchInlineSnapshot(`
      "expect(run).toHaveError(kind)

      Expected: an action to fail with error not-loaded
      Received: actions:
                insmod('core_lkm'): ok
                insmod('client_lkm'): ok
                rmmod('core_lkm'): in-use (by client_lkm)"
    `)
    expect(failure(() => expect(run).not.toHaveError('in-use'))).toMatchInlineSnapshot(`
      "expect(run).not.toHaveError(kind)

      Expected: not an action to fail with error in-use
      Received: rmmod('core_lkm'): in-use (by client_lkm)
                rmmod: ERROR: Module core_lkm is in use by: client_lkm"
    `)
  })

  test('toHaveTainted (expectTainted; no letters: any taint; .not without letters: expectNotTainted)', async () => {
    const run = await stack()
    expect(run).toHaveTainted('O')
    expect(run).toHaveTainted()
    expect(run).not.toHaveTainted('P')
    expect(failure(() => expect(run).toHaveTainted('P'))).toContain('Expected: kernel taint including P\nReceived: kernel taint O')
    expect(failure(() => expect(run).not.toHaveTainted())).toContain('Expected: not kernel taint including any letter\nReceived: kernel taint O')
    const clean = await kernel({ backend: createFakeBackend({ script: [{ argv: ['lsmod'] }] }) }).run(['lsmod'])
    expect(clean).not.toHaveTainted()
  })

  test('toHaveOutput (expectOutput over the run)', async () => {
    const run = await stack()
    expect(run).toHaveOutput('is in use by: client_lkm')
    expect(run).toHaveOutput(/^rmmod: ERROR: /m)
    expect(run).not.toHaveOutput('not currently loaded')
    expect(failure(() => expect(run).toHaveOutput('not currently loaded'))).toContain(
      'Expected: output containing not currently loaded\nReceived: output of the run:\n          rmmod: ERROR: Module core_lkm is in use by: client_lkm',
    )
  })

  test('given something else than a run, a matcher fails with what to pass, with or without .not', () => {
    const chain = kernel({ backend: createFakeBackend({ script: [] }) })
    expect(failure(() => expect(chain).toHaveLoaded('x'))).toMatch(
      /^toHaveLoaded\(\) needs the result of awaiting a kernel\(\) chain, got KernelChain: write expect\(await kernel\(\)\.\.\.\)\.toHaveLoaded\(\.\.\.\)\nReceived: /,
    )
    expect(failure(() => expect(chain).not.toHaveLoaded('x'))).toMatch(/^toHaveLoaded\(\) needs the result of awaiting a kernel\(\) chain/)
  })
})

describe('the deprecated names are the new matchers under their old names', () => {
  test('toHaveLogged = toHaveDmesg, toHaveTaint = toHaveTainted, toHaveFailedWith = toHaveError (optionally for one call)', async () => {
    const run = await stack()
    expect(run).toHaveLogged(['[client_lkm] loaded: calling core_lkm', '[core_lkm] core_greet() called'])
    expect(run).not.toHaveLogged('[core_lkm] bye')
    expect(failure(() => expect(run).toHaveLogged('[core_lkm] bye'))).toContain('Expected: these kernel log lines, in order:\n          [core_lkm] bye')
    expect(run).toHaveTaint('O')
    expect(run).not.toHaveTaint('P')
    expect(run).toHaveFailedWith('in-use', "rmmod('core_lkm')")
    expect(run).not.toHaveFailedWith('in-use', "insmod('core_lkm')")
    expect(failure(() => expect(run).toHaveFailedWith('in-use', "insmod('core_lkm')"))).toContain(
      "Expected: insmod('core_lkm') to fail with error in-use\nReceived: actions:\n          insmod('core_lkm'): ok",
    )
  })
})

describe('a matcher and the chain expectation of the same name agree on the same run', () => {
  /** The chain step's verdict: undefined when it passed, else its Expected and Received. */
  const chainVerdict = async (step: (c: KernelChain) => KernelChain): Promise<{ expected: string; received: string } | undefined> => {
    try {
      await stack(step)
      return undefined
    } catch (error) {
      expect(error).toBeInstanceOf(KmodspecError)
      return { expected: (error as KmodspecError).expected, received: (error as KmodspecError).actual }
    }
  }
  /** The matcher's verdict on the same run, in the same terms. */
  const matcherVerdict = (run: KernelRun, assert: (e: ReturnType<typeof expect<KernelRun>>) => void): { expected: string; received: string } | undefined => {
    try {
      assert(expect(run))
      return undefined
    } catch (error) {
      const m = /\nExpected: ([\s\S]*)\nReceived: ([\s\S]*?)(?:\n\n|$)/.exec(stripAnsi((error as Error).message))
      return { expected: m![1]!.replace(/\n {10}/g, '\n'), received: m![2]!.replace(/\n {10}/g, '\n') }
    }
  }
  const cases: Array<[string, (c: KernelChain) => KernelChain, (e: ReturnType<typeof expect<KernelRun>>) => void]> = [
    ['expectLoaded / toHaveLoaded, passing', (c) => c.expectLoaded('core_lkm', { refcount: 1 }), (e) => e.toHaveLoaded('core_lkm', { refcount: 1 })],
    [
      'expectLoaded / toHaveLoaded, failing on holders',
      (c) => c.expectLoaded('core_lkm', { holders: ['x'] }),
      (e) => e.toHaveLoaded('core_lkm', { holders: ['x'] }),
    ],
    ['expectLoaded / toHaveLoaded, not loaded', (c) => c.expectLoaded('hello_api'), (e) => e.toHaveLoaded('hello_api')],
    ['expectNotLoaded / not.toHaveLoaded, passing', (c) => c.expectNotLoaded('hello_api'), (e) => e.not.toHaveLoaded('hello_api')],
    ['expectLoadOrder / toHaveLoadOrder, failing', (c) => c.expectLoadOrder(['client_lkm', 'core_lkm']), (e) => e.toHaveLoadOrder(['client_lkm', 'core_lkm'])],
    ['expectDmesg / toHaveDmesg (run scope), failing', (c) => c.expectDmesg('[core_lkm] bye', { scope: 'run' }), (e) => e.toHaveDmesg('[core_lkm] bye')],
    [
      'expectDmesg / toHaveDmesg (run scope), passing',
      (c) => c.expectDmesg([/exporting/, /greet\(\)/], { scope: 'run' }),
      (e) => e.toHaveDmesg([/exporting/, /greet\(\)/]),
    ],
    ['expectTainted / toHaveTainted, failing', (c) => c.expectTainted('P'), (e) => e.toHaveTainted('P')],
    ['expectTainted / toHaveTainted, passing', (c) => c.expectTainted('O'), (e) => e.toHaveTainted('O')],
    ['expectOutput / toHaveOutput (last action = all output here), passing', (c) => c.expectOutput('in use by'), (e) => e.toHaveOutput('in use by')],
  ]
  test.each(cases)('%s', async (_name, step, assert) => {
    const chain = await chainVerdict(step)
    const matcher = matcherVerdict(await stack(), assert)
    expect(matcher === undefined, 'both pass or both fail').toBe(chain === undefined)
    if (chain && matcher) {
      expect(matcher.expected).toBe(chain.expected)
      // the chain reads the kernel at the step, the matcher reads the run's end: the same kernel here
      expect(matcher.received).toBe(chain.received)
    }
  })

  test('expectRefcount / toHaveRefcount and expectHolders / toHaveHolders give the same Expected', async () => {
    const chain = await chainVerdict((c) => c.expectRefcount('core_lkm', 3))
    const matcher = matcherVerdict(await stack(), (e) => e.toHaveRefcount('core_lkm', 3))
    expect(matcher).toEqual(chain)
    const holders = await chainVerdict((c) => c.expectHolders('core_lkm', ['a', 'b']))
    expect(matcherVerdict(await stack(), (e) => e.toHaveHolders('core_lkm', ['b', 'a']))).toEqual(holders)
  })
})
