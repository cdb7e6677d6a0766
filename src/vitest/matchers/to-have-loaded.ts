import type { MatcherState } from 'vitest'
import { isResult, not, runOf, type MatcherResult } from './common.js'

/** The module is in /proc/modules at the end of the run. */
export function toHaveLoaded(this: MatcherState, received: unknown, name: string): MatcherResult {
  const run = runOf(received, 'toHaveLoaded')
  if (isResult(run)) return run
  const names = run.modules.map((m) => m.name)
  const pass = names.includes(name)
  return { pass, message: () => `expected ${name} ${not(pass)}to be loaded at the end of the run; loaded: ${names.join(', ') || '(nothing)'}`, actual: names, expected: name }
}
