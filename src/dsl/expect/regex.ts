/**
 * A user's RegExp runs under a time bound. V8's backtracking engine can take exponential time on
 * patterns like /(a+)+$/, and a synchronous match cannot be interrupted from the same thread. Node's
 * `vm` timeout can (its watchdog terminates the running regex), but each bounded call costs about
 * 0.3 ms; so a pattern that is provably fast (star height 1, no alternation under a quantifier, no
 * backreference or lookaround, at most two unbounded quantifiers) runs directly, and only the rest
 * run through `vm` with the bound. No dependency needed, and no worker thread per match.
 */
import vm from 'node:vm'
import { StepFailure } from '../errors.js'

/** How long one match of a user's RegExp against one line may take. */
export const REGEX_BOUND_MS = 200

const context = vm.createContext({ re: /(?:)/, s: '' })
const script = new vm.Script('re.lastIndex = 0, re.test(s)')
const safeCache = new WeakMap<RegExp, boolean>()

/**
 * True when the pattern cannot backtrack catastrophically (see the file comment); conservative.
 * @example isProvablySafe(/^\[hello\] .*world$/) // true
 * @example isProvablySafe(/^(a+)+$/) // false
 */
export function isProvablySafe(re: RegExp): boolean {
  const src = re.source
  // For each open group: whether it holds a quantifier or an alternation.
  const groups: boolean[] = []
  let unbounded = 0
  let lastGroupRisky = false
  let afterGroup = false
  for (let i = 0; i < src.length; i++) {
    const c = src[i]
    if (c === '\\') {
      const n = src[i + 1] ?? ''
      if (/[1-9k]/.test(n)) return false // backreference
      i++
      afterGroup = false
      continue
    }
    if (c === '[') {
      for (i++; i < src.length && src[i] !== ']'; i++) if (src[i] === '\\') i++
      afterGroup = false
      continue
    }
    if (c === '(') {
      if (src[i + 1] === '?' && src[i + 2] !== ':') return false // lookaround or named group with backreference risk
      groups.push(false)
      afterGroup = false
      continue
    }
    if (c === ')') {
      lastGroupRisky = groups.pop() ?? false
      afterGroup = true
      continue
    }
    if (c === '|') {
      if (groups.length > 0) groups[groups.length - 1] = true
      afterGroup = false
      continue
    }
    const quant = c === '*' || c === '+' || c === '?' || (c === '{' && /^\{\d+(,\d*)?\}/.test(src.slice(i)))
    if (quant) {
      const open = c === '*' || c === '+' || (c === '{' && /^\{\d+,\}/.test(src.slice(i)))
      if (open) unbounded++
      if (afterGroup && lastGroupRisky) return false // a quantified group holding a quantifier or '|'
      if (groups.length > 0) groups[groups.length - 1] = true
      if (c === '{') i = src.indexOf('}', i)
      if (src[i + 1] === '?') i++ // lazy
      afterGroup = false
      continue
    }
    afterGroup = false
  }
  return unbounded <= 2
}

/**
 * `re.test(text)` from the start of the string, under {@link REGEX_BOUND_MS} when the pattern is not
 * provably fast. `lastIndex` is reset first, so a /g or /y RegExp gives the same answer every time.
 * @throws StepFailure naming the pattern when it runs past the bound.
 * @example testBounded(/ready$/, 'hello: ready') // true
 */
export function testBounded(re: RegExp, text: string): boolean {
  let safe = safeCache.get(re)
  if (safe === undefined) safeCache.set(re, (safe = isProvablySafe(re)))
  if (safe) {
    re.lastIndex = 0
    return re.test(text)
  }
  context.re = re
  context.s = text
  try {
    return script.runInContext(context, { timeout: REGEX_BOUND_MS }) as boolean
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw e
    const line = text.length > 80 ? `${text.slice(0, 77)}...` : text
    throw new StepFailure(
      `${String(re)} to match or not within ${REGEX_BOUND_MS} ms per line`,
      `${String(re)} was still running after ${REGEX_BOUND_MS} ms on ${JSON.stringify(line)} (catastrophic backtracking): rewrite it without a quantified group that itself repeats, e.g. /(a+)+$/ as /a+$/`,
    )
  } finally {
    context.re = /(?:)/
    context.s = ''
  }
}
