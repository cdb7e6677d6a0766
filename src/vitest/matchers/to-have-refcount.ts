import type { MatcherState } from 'vitest'
import { isResult, not, runOf, type MatcherResult } from './common.js'

/** The module's refcount (lsmod's Used by count) at the end of the run. */
export function toHaveRefcount(this: MatcherState, received: unknown, name: string, refcount: number): MatcherResult {
  const run = runOf(received, 'toHaveRefcount')
  if (isResult(run)) return run
  const m = run.modules.find((x) => x.name === name)
  const pass = m !== undefined && m.refcount === refcount
  return { pass, message: () => `expected ${name} ${not(pass)}to have refcount ${refcount}; ${m ? `it has ${m.refcount}` : 'it is not loaded'}`, actual: m?.refcount, expected: refcount }
}
