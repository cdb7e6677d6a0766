import type { MatcherState } from 'vitest'
import { isResult, not, runOf, type MatcherResult } from './common.js'

/** These modules appeared in /proc/modules in this order during the run (others ignored). */
export function toHaveLoadOrder(this: MatcherState, received: unknown, names: string[]): MatcherResult {
  const run = runOf(received, 'toHaveLoadOrder')
  if (isResult(run)) return run
  const pass = run.loadOrder.filter((n) => names.includes(n)).join(',') === names.join(',')
  return { pass, message: () => `expected load order ${not(pass)}to be [${names.join(', ')}]; it was [${run.loadOrder.join(', ')}]`, actual: run.loadOrder, expected: names }
}
