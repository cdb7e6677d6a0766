import type { ProcModule } from '../../observe/index.js'
import { formatValue } from '../format.js'
import type { CheckResult } from './result.js'

export interface LoadedOptions {
  /** The module's reference count (lsmod's Used by count). */
  refcount?: number
  /** The modules that use it, in any order (lsmod's Used by names). */
  holders?: string[]
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => [...a].sort().join(',') === [...b].sort().join(',')
const loadedList = (names: string[]): string => (names.length === 0 ? 'nothing is loaded' : `loaded: ${names.join(', ')}`)
const shown = (m: ProcModule, loaded = 'loaded'): string =>
  `${m.name} ${m.state === 'Live' ? loaded : m.state}, refcount ${m.refcount}, holders [${m.holders.join(', ')}]`

/**
 * The module is in /proc/modules and Live, with this refcount and these holders when given.
 * @example checkLoaded(parseProcModules(text), 'hello_api', { refcount: 1 })
 */
export function checkLoaded(modules: readonly ProcModule[], name: string, options: LoadedOptions = {}): CheckResult {
  const parts = [`${name} loaded`]
  if (options.refcount !== undefined) parts.push(`refcount ${options.refcount}`)
  if (options.holders !== undefined) parts.push(`holders [${options.holders.join(', ')}]`)
  const expected = parts.join(', ')
  const m = modules.find((x) => x.name === name)
  if (!m) return { pass: false, expected, received: `${name} is not loaded (${loadedList(modules.map((x) => x.name))})` }
  const pass =
    m.state === 'Live' &&
    (options.refcount === undefined || m.refcount === options.refcount) &&
    (options.holders === undefined || sameSet(m.holders, options.holders))
  return { pass, expected, received: shown(m) }
}

/**
 * The module is not in /proc/modules (in no state).
 * @example checkNotLoaded([], 'hello_api').pass // true
 */
export function checkNotLoaded(modules: readonly ProcModule[], name: string): CheckResult {
  const m = modules.find((x) => x.name === name)
  return {
    pass: !m,
    expected: `${name} not loaded`,
    received: m ? `${name} is loaded (${m.state}), refcount ${m.refcount}, holders [${m.holders.join(', ')}]` : loadedList(modules.map((x) => x.name)),
  }
}

/**
 * The module's refcount; `got` undefined means there is none to read (`missing` says why).
 * @example checkRefcount(1, 1, 'hello_api is not loaded').pass // true
 */
export function checkRefcount(got: number | undefined, want: number, missing: string): CheckResult {
  return { pass: got === want, expected: `refcount ${want}`, received: got === undefined ? missing : `refcount ${got}` }
}

/**
 * The modules that use it, in any order; `got` undefined means there is no list to read.
 * @example checkHolders(['b'], ['b'], 'a is not loaded').pass // true
 */
export function checkHolders(got: readonly string[] | undefined, want: readonly string[], missing: string): CheckResult {
  return {
    pass: got !== undefined && sameSet(got, want),
    expected: `holders [${[...want].sort().join(', ')}]`,
    received: got === undefined ? missing : `holders [${[...got].sort().join(', ')}]`,
  }
}

/**
 * These modules appeared in this order (others in between are ignored).
 * @example checkLoadOrder(['a', 'x', 'b'], ['a', 'b']).pass // true
 */
export function checkLoadOrder(order: readonly string[], names: readonly string[]): CheckResult {
  const relevant = order.filter((n) => names.includes(n))
  return { pass: relevant.join(',') === names.join(','), expected: `load order ${formatValue(names)}`, received: `load order ${formatValue(order)}` }
}
