import type { MatcherState } from 'vitest'
import type { ErrorKind } from '../../dsl/index.js'
import { isResult, not, runOf, type MatcherResult } from './common.js'

/** Some action of the run (or the one whose call is given, e.g. "insmod('x')") failed with this kind. */
export function toHaveFailedWith(this: MatcherState, received: unknown, kind: ErrorKind, call?: string): MatcherResult {
  const run = runOf(received, 'toHaveFailedWith')
  if (isResult(run)) return run
  const actions = run.actions.filter((a) => call === undefined || a.call === call)
  const pass = actions.some((a) => a.error?.kind === kind)
  const seen = actions.map((a) => `${a.call}: ${a.error ? a.error.kind : 'ok'}`)
  return { pass, message: () => `expected ${call ?? 'an action'} ${not(pass)}to fail with ${kind}; actions:\n  ${seen.join('\n  ') || '(none)'}`, actual: seen, expected: kind }
}
