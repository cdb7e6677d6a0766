import { block, matchesLine, showPattern, type LinePattern } from '../expect/common.js'
import type { CheckResult } from './result.js'

/**
 * What an ordered log check wants, in words.
 * @example dmesgExpected(['[a] hi'], false) // 'these kernel log lines, in order:\n[a] hi'
 */
export function dmesgExpected(patterns: readonly LinePattern[], exact = false): string {
  return `${exact ? 'exactly these' : 'these'} kernel log lines, in order:\n${block(patterns.map(showPattern))}`
}

/**
 * Each pattern matches a line, in order (string: the whole line; RegExp: a match); other lines may
 * come between unless `exact`, which wants exactly these lines and no other.
 * @example checkDmesg(['[a] hi', '[a] bye'], [/hi$/, '[a] bye'], { label: 'kernel log of the run' }).pass // true
 */
export function checkDmesg(texts: readonly string[], patterns: readonly LinePattern[], options: { exact?: boolean; label: string }): CheckResult {
  let pass: boolean
  if (options.exact) {
    pass = texts.length === patterns.length && patterns.every((p, i) => matchesLine(p, texts[i]!))
  } else {
    let at = 0
    pass = patterns.every((p) => {
      while (at < texts.length && !matchesLine(p, texts[at]!)) at++
      return at++ < texts.length
    })
  }
  return { pass, expected: dmesgExpected(patterns, options.exact), received: `${options.label}:\n${block(texts, '(no kernel log lines)')}` }
}

/**
 * No line matches the pattern.
 * @example checkNoDmesg(['[a] hi'], /oops/, 'kernel log of the run').pass // true
 */
export function checkNoDmesg(texts: readonly string[], pattern: LinePattern, label: string): CheckResult {
  const hits = texts.filter((t) => matchesLine(pattern, t))
  return {
    pass: hits.length === 0,
    expected: `no kernel log line matching ${showPattern(pattern)}`,
    received: hits.length ? `${label} has:\n${block(hits)}` : `${label}:\n${block(texts, '(no kernel log lines)')}`,
  }
}
