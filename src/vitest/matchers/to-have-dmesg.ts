import type { MatcherState } from 'vitest'
import { checkDmesg } from '../../dsl/checks/index.js'
import { checkLinePatterns } from '../../dsl/validate.js'
import type { LinePattern } from '../../dsl/index.js'
import { isResult, report, runOf, type MatcherResult } from './common.js'

/** The chain's expectDmesg on the whole run: these kernel log lines, in order (`exact`: and no other). */
export function toHaveDmesg(this: MatcherState, received: unknown, lines: LinePattern | LinePattern[], options: { exact?: boolean } = {}): MatcherResult {
  const run = runOf(this, received, 'toHaveDmesg')
  if (isResult(run)) return run
  const checked = checkLinePatterns(lines, true)
  if ('problem' in checked) throw new TypeError(`toHaveDmesg(): ${checked.problem}; ${checked.todo.replace(/expectDmesg/g, 'toHaveDmesg')}`)
  const texts = run.dmesg.map((r) => r.text)
  const r = checkDmesg(texts, checked.patterns, { exact: options.exact, label: 'kernel log of the run' })
  return report(this, 'toHaveDmesg', 'lines', r, { expected: checked.patterns.map(String), received: texts })
}

/** @deprecated the old name of {@link toHaveDmesg}; kept for one version. */
export function toHaveLogged(this: MatcherState, received: unknown, lines: LinePattern | LinePattern[]): MatcherResult {
  return toHaveDmesg.call(this, received, lines)
}
