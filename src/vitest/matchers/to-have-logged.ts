import type { MatcherState } from 'vitest'
import { isResult, not, runOf, type MatcherResult } from './common.js'

/** The run's kernel log has these lines in order (string: whole line; RegExp: a match). */
export function toHaveLogged(this: MatcherState, received: unknown, lines: string | RegExp | Array<string | RegExp>): MatcherResult {
  const run = runOf(received, 'toHaveLogged')
  if (isResult(run)) return run
  const patterns = Array.isArray(lines) ? lines : [lines]
  const texts = run.dmesg.map((r) => r.text)
  let at = 0
  const pass = patterns.every((p) => {
    while (at < texts.length && !(typeof p === 'string' ? texts[at] === p : p.test(texts[at]!))) at++
    return at++ < texts.length
  })
  return {
    pass,
    message: () => `expected the kernel log ${not(pass)}to have, in order:\n  ${patterns.map(String).join('\n  ')}\nkernel log of the run:\n  ${texts.join('\n  ') || '(empty)'}`,
    actual: texts,
    expected: patterns.map(String),
  }
}
