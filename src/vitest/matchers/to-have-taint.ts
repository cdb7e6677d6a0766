import type { MatcherState } from 'vitest'
import { isResult, not, runOf, type MatcherResult } from './common.js'

/** The kernel's taint letters at the end of the run include these (e.g. 'OE'). */
export function toHaveTaint(this: MatcherState, received: unknown, flags: string): MatcherResult {
  const run = runOf(received, 'toHaveTaint')
  if (isResult(run)) return run
  const pass = [...flags].every((f) => run.tainted.includes(f))
  return { pass, message: () => `expected the kernel ${not(pass)}to be tainted ${flags}; taint: ${run.tainted || '(none)'}`, actual: run.tainted, expected: flags }
}
