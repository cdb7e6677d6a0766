import { errnoName, errnoNumber, kindSatisfies, type ErrorKind, type ObservedError } from '../../observe/index.js'
import type { RunContext } from '../context.js'
import { StepFailure } from '../errors.js'
import { formatValue } from '../format.js'
import { outcome, previousAction } from './common.js'

/** Details an expectError can check, by kind. */
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

function describe(error: ObservedError): string {
  const bits: string[] = []
  if (error.symbols?.length) bits.push(`symbols ${error.symbols.join(', ')}`)
  if (error.by) bits.push(`by ${error.by.length ? error.by.join(', ') : '(no holders listed)'}`)
  if (error.errno !== undefined) bits.push(`errno ${errnoName(error.errno)} (${error.errno})`)
  if (error.params?.length) bits.push(`params ${error.params.join(', ')}`)
  return `${error.kind}${bits.length ? ` (${bits.join('; ')})` : ''}\n${error.line}`
}

function mismatch(error: ObservedError, details: ErrorDetails): string | undefined {
  if (details.symbol !== undefined && !(error.symbols ?? []).includes(details.symbol)) return `symbol ${details.symbol}`
  if (details.symbols !== undefined && (error.symbols ?? []).join(',') !== details.symbols.join(',')) return `symbols ${details.symbols.join(', ')}`
  if (details.by !== undefined) {
    const want = [details.by].flat().sort().join(',')
    if ([...(error.by ?? [])].sort().join(',') !== want) return `in use by ${[details.by].flat().join(', ')}`
  }
  if (details.errno !== undefined && (error.errno === undefined || Math.abs(error.errno) !== errnoNumber(details.errno))) return `errno ${formatValue(details.errno)}`
  if (details.param !== undefined && !(error.params ?? []).includes(details.param)) return `parameter ${details.param} refused`
  return undefined
}

export async function expectError(ctx: RunContext, kind: ErrorKind, details: ErrorDetails = {}): Promise<void> {
  const wanted = `error ${kind}${Object.keys(details).length ? ` ${formatValue(details)}` : ''}`
  const action = previousAction(ctx, wanted)
  const error = action.error
  if (!error) throw new StepFailure(wanted, outcome(action))
  if (!kindSatisfies(error.kind, kind)) throw new StepFailure(wanted, describe(error))
  const wrong = mismatch(error, details)
  if (wrong) throw new StepFailure(wanted, describe(error))
}
