import { block, showPattern } from '../expect/common.js'
import { testBounded } from '../expect/regex.js'
import type { CheckResult } from './result.js'

/**
 * The text (stdout and stderr) contains the string or matches the RegExp.
 * @example checkOutput('rmmod: ERROR: Module x is not currently loaded\n', 'not currently loaded', 'output of rmmod').pass // true
 */
export function checkOutput(text: string, pattern: string | RegExp, label: string): CheckResult {
  const pass = typeof pattern === 'string' ? text.includes(pattern) : testBounded(pattern, text)
  return {
    pass,
    expected: `output ${typeof pattern === 'string' ? 'containing' : 'matching'} ${showPattern(pattern)}`,
    received: `${label}:\n${block(
      text.split('\n').filter((l) => l !== ''),
      '(no output)',
    )}`,
  }
}
