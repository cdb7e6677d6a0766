import { errnoName, errnoNumber, kindSatisfies, type ErrorKind, type ObservedError } from '../../observe/index.js'
import { formatValue } from '../format.js'
import type { CheckResult } from './result.js'

/** Details an error check can compare, by kind. */
export interface ErrorDetails {
  /** unknown-symbol, symbol-version: a symbol the kernel named. */
  symbol?: string
  /** unknown-symbol: all the symbols the kernel named, in its order. */
  symbols?: string[]
  /** in-use: the holders rmmod listed (any order). */
  by?: string | string[]
  /** init-failed: the errno init returned: 'ENODEV', 19 or -19. */
  errno?: string | number
  /** invalid-params: a parameter the kernel refused. */
  param?: string
}

/** An observed error in words: its kind and details, then the tool's line. */
export function describeError(error: ObservedError): string {
  const bits: string[] = []
  if (error.symbols?.length) bits.push(`symbols ${error.symbols.join(', ')}`)
  if (error.by) bits.push(`by ${error.by.length ? error.by.join(', ') : '(no holders listed)'}`)
  if (error.errno !== undefined) bits.push(`errno ${errnoName(error.errno)} (${error.errno})`)
  if (error.params?.length) bits.push(`params ${error.params.join(', ')}`)
  return `${error.kind}${bits.length ? ` (${bits.join('; ')})` : ''}\n${error.line}`
}

function detailsMatch(error: ObservedError, details: ErrorDetails): boolean {
  if (details.symbol !== undefined && !(error.symbols ?? []).includes(details.symbol)) return false
  if (details.symbols !== undefined && (error.symbols ?? []).join(',') !== details.symbols.join(',')) return false
  if (details.by !== undefined && [...(error.by ?? [])].sort().join(',') !== [details.by].flat().sort().join(',')) return false
  if (details.errno !== undefined && (error.errno === undefined || Math.abs(error.errno) !== errnoNumber(details.errno))) return false
  if (details.param !== undefined && !(error.params ?? []).includes(details.param)) return false
  return true
}

/**
 * The error (of one action) is of this kind (a more precise kind satisfies its parent) and has these details.
 * `otherwise` is what to show when the action did not fail (e.g. 'success (exit 0)').
 * @example checkError({ kind: 'in-use', by: ['b'], line: '...' }, 'in-use', { by: 'b' }, 'success (exit 0)').pass // true
 */
export function checkError(error: ObservedError | undefined, kind: ErrorKind, details: ErrorDetails = {}, otherwise = 'no error'): CheckResult {
  const expected = `error ${kind}${Object.keys(details).length ? ` ${formatValue(details)}` : ''}`
  if (!error) return { pass: false, expected, received: otherwise }
  return { pass: kindSatisfies(error.kind, kind) && detailsMatch(error, details), expected, received: describeError(error) }
}
