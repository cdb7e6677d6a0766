import type { MatcherState } from 'vitest'
import { checkError, type ErrorDetails } from '../../dsl/checks/index.js'
import type { ErrorKind } from '../../dsl/index.js'
import { isResult, report, runOf, type MatcherResult } from './common.js'

function errorOf(this: MatcherState, matcher: string, received: unknown, kind: ErrorKind, details: ErrorDetails, call?: string): MatcherResult {
  const run = runOf(this, received, matcher)
  if (isResult(run)) return run
  const actions = run.actions.filter((a) => call === undefined || a.call === call)
  const checks = actions.map((a) => ({ call: a.call, r: checkError(a.error, kind, details, 'ok') }))
  const hit = checks.find((c) => c.r.pass)
  const expected = `${call ?? 'an action'} to fail with ${checkError(undefined, kind, details).expected}`
  const seen = checks.map((c) => `${c.call}: ${c.r.received.split('\n')[0]}`)
  return report(this, matcher, 'kind', {
    pass: hit !== undefined,
    expected,
    received: hit ? `${hit.call}: ${hit.r.received}` : `actions:\n${seen.join('\n') || '(none)'}`,
  })
}

/** The chain's expectError on the run: some action failed with this kind (and these details). */
export function toHaveError(this: MatcherState, received: unknown, kind: ErrorKind, details: ErrorDetails = {}): MatcherResult {
  return errorOf.call(this, 'toHaveError', received, kind, details)
}

/** @deprecated use {@link toHaveError}; this old name also takes the call of the one action to look at. Kept for one version. */
export function toHaveFailedWith(this: MatcherState, received: unknown, kind: ErrorKind, call?: string): MatcherResult {
  return errorOf.call(this, 'toHaveFailedWith', received, kind, {}, call)
}
