import { hasTaint } from '../../observe/index.js'
import type { CheckResult } from './result.js'

/**
 * The taint letters include every one of `flags` (no flags: any taint at all). `letters` undefined
 * means there was nothing to read (`missing` says why). `whose` is 'kernel' or a module name.
 * @example checkTainted('OE', 'O', 'kernel').pass // true
 */
export function checkTainted(letters: string | undefined, flags: string | undefined, whose: string, missing = 'no taint to read'): CheckResult {
  const expected = `${whose} taint including ${flags === undefined ? 'any letter' : flags === '' ? '(nothing)' : flags}`
  if (letters === undefined) return { pass: false, expected, received: missing }
  const pass = flags === undefined ? letters !== '' : hasTaint(letters, flags)
  return { pass, expected, received: `${whose} taint ${letters === '' ? '(none)' : letters}` }
}

/**
 * The kernel carries no taint ('?' when it could not be read).
 * @example checkNotTainted('').pass // true
 */
export function checkNotTainted(letters: string): CheckResult {
  return { pass: letters === '', expected: 'kernel not tainted', received: `kernel taint ${letters === '' ? '(none)' : letters}` }
}
