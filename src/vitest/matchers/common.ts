import type { MatcherState } from 'vitest'
import type { CheckResult } from '../../dsl/checks/index.js'
import { hang } from '../../dsl/format.js'
import { isKernelRun, type KernelRun } from '../../dsl/index.js'

export interface MatcherResult {
  pass: boolean
  message: () => string
  actual?: unknown
  expected?: unknown
}

/** Width of 'Expected: ', so continuation lines line up under the first. */
const LABEL = 10

/**
 * A check's verdict as a matcher result: vitest's hint line (`.not` included), then Expected and
 * Received in its colours, and a diff of the values when the check has them and `.not` is off.
 */
export function report(state: MatcherState, matcher: string, args: string, r: CheckResult, values?: { expected: unknown; received: unknown }): MatcherResult {
  const { isNot, utils } = state
  return {
    pass: r.pass,
    message: () => {
      const lines = [
        utils.matcherHint(`.${matcher}`, 'run', args, { isNot }),
        '',
        `Expected: ${isNot ? 'not ' : ''}${utils.EXPECTED_COLOR(hang(r.expected, LABEL))}`,
        `Received: ${utils.RECEIVED_COLOR(hang(r.received, LABEL))}`,
      ]
      const diff = values && !isNot ? utils.diff(values.expected, values.received) : undefined
      return diff ? `${lines.join('\n')}\n\n${diff}` : lines.join('\n')
    },
  }
}

/** The run a matcher looks at, or a failed result saying what to pass instead (with `.not` too). */
export function runOf(state: MatcherState, received: unknown, matcher: string): KernelRun | MatcherResult {
  if (isKernelRun(received)) return received
  const what = received === null ? 'null' : typeof received === 'object' ? (received.constructor?.name ?? 'object') : typeof received
  // `pass` is what makes the assertion fail: false for expect(), true for expect().not
  return {
    pass: state.isNot,
    message: () =>
      `${matcher}() needs the result of awaiting a kernel() chain, got ${what}: write expect(await kernel()...).${matcher}(...)\nReceived: ${state.utils.printReceived(received)}`,
  }
}

export function isResult(value: KernelRun | MatcherResult): value is MatcherResult {
  return 'pass' in value
}
