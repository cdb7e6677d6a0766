import type { MatcherState } from 'vitest'
import { isResult, not, runOf, type MatcherResult } from './common.js'

/** The modules using this one (any order) at the end of the run. */
export function toHaveHolders(this: MatcherState, received: unknown, name: string, holders: string[]): MatcherResult {
  const run = runOf(received, 'toHaveHolders')
  if (isResult(run)) return run
  const m = run.modules.find((x) => x.name === name)
  const got = m ? [...m.holders].sort() : undefined
  const pass = got !== undefined && got.join(',') === [...holders].sort().join(',')
  return { pass, message: () => `expected ${name} ${not(pass)}to be held by [${holders.join(', ')}]; ${got ? `held by [${got.join(', ')}]` : 'it is not loaded'}`, actual: got, expected: [...holders].sort() }
}
