import type { MatcherState } from 'vitest'
import { checkOutput } from '../../dsl/checks/index.js'
import { isResult, report, runOf, type MatcherResult } from './common.js'

/** The chain's expectOutput on the whole run: some action's stdout or stderr contains the text (or matches the RegExp). */
export function toHaveOutput(this: MatcherState, received: unknown, pattern: string | RegExp): MatcherResult {
  const run = runOf(this, received, 'toHaveOutput')
  if (isResult(run)) return run
  return report(this, 'toHaveOutput', 'pattern', checkOutput(run.actions.map((a) => a.stdout + a.stderr).join(''), pattern, 'output of the run'))
}
