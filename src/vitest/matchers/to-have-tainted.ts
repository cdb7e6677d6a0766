import type { MatcherState } from 'vitest'
import { checkTainted } from '../../dsl/checks/index.js'
import { isResult, report, runOf, type MatcherResult } from './common.js'

/** The chain's expectTainted at the end of the run: these letters (none given: any taint; `.not` without letters: expectNotTainted). */
export function toHaveTainted(this: MatcherState, received: unknown, flags?: string): MatcherResult {
  const run = runOf(this, received, 'toHaveTainted')
  if (isResult(run)) return run
  return report(this, 'toHaveTainted', flags === undefined ? '' : 'flags', checkTainted(run.tainted, flags, 'kernel'))
}

/** @deprecated the old name of {@link toHaveTainted}; kept for one version. */
export function toHaveTaint(this: MatcherState, received: unknown, flags: string): MatcherResult {
  return toHaveTainted.call(this, received, flags)
}
