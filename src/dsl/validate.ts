/**
 * Arguments of the chain's methods, checked when the step is queued (not when it runs), so a
 * misused call fails at its own line with one sentence that says what to write instead.
 */
import { ERROR_KINDS, TAINT_FLAGS } from '../observe/index.js'
import { KmodspecError } from './errors.js'
import { formatValue } from './format.js'

/**
 * A chain method called with arguments it cannot use. `message` is one line:
 * `kernel(sim).expectDmesg(null): <what is wrong>; <what to write>`.
 */
export class ChainUsageError extends KmodspecError {
  constructor(backend: string, call: string, problem: string, todo: string) {
    super({ title: `kernel(${backend}).${call}: ${problem}`, expected: todo, actual: problem, backend })
    const line = `kernel(${backend}).${call}: ${problem}; ${todo}`
    Object.defineProperty(this, 'message', { value: line, enumerable: false, configurable: true, writable: true })
    this.stack = `KmodspecError: ${line}`
  }
}

/** What is wrong with a value used as a kernel log line pattern, or undefined. */
function linePatternProblem(p: unknown): string | undefined {
  if (typeof p === 'string' || p instanceof RegExp) return undefined
  return `a kernel log pattern must be a string (the whole line) or a RegExp, got ${formatValue(p)}`
}

/**
 * expectDmesg's lines (one pattern or a non-empty list) and expectNoDmesg's pattern, copied: a RegExp
 * is cloned so its lastIndex is never shared with the caller or another step.
 * @example checkLinePatterns(['[x] hi', /ready/], true) // { patterns: ['[x] hi', /ready/] }
 */
export function checkLinePatterns(lines: unknown, list: boolean): { patterns: Array<string | RegExp> } | { problem: string; todo: string } {
  const todo = list
    ? "write expectDmesg('hello: ready'), expectDmesg(/ready$/) or expectDmesg(['line 1', /line 2/])"
    : "write expectNoDmesg('the line') or expectNoDmesg(/part of it/)"
  const items = list && Array.isArray(lines) ? lines : [lines]
  if (list && Array.isArray(lines) && lines.length === 0) return { problem: 'an empty list of kernel log lines checks nothing', todo }
  for (const p of items) {
    const problem = linePatternProblem(p)
    if (problem) return { problem, todo }
  }
  return { patterns: items.map((p) => (p instanceof RegExp ? new RegExp(p.source, p.flags) : (p as string))) }
}

/** expectError's kind: one of the kinds the observers classify, or the list to choose from. */
export function errorKindProblem(kind: unknown): string | undefined {
  if (typeof kind === 'string' && (ERROR_KINDS as readonly string[]).includes(kind)) return undefined
  return `unknown error kind ${formatValue(kind)}`
}

/** The details expectError can check; any other key would be a check that never runs. */
const ERROR_DETAIL_KEYS = ['symbol', 'symbols', 'by', 'errno', 'param'] as const

/** expectError's details: an object of the keys it checks. */
export function errorDetailsProblem(details: unknown): string | undefined {
  if (details === undefined) return undefined
  if (typeof details !== 'object' || details === null || Array.isArray(details)) return `details must be an object, got ${formatValue(details)}`
  const unknown = Object.keys(details).filter((k) => !(ERROR_DETAIL_KEYS as readonly string[]).includes(k))
  if (unknown.length > 0) return `expectError cannot check ${unknown.map((k) => `'${k}'`).join(', ')}: its details are ${ERROR_DETAIL_KEYS.join(', ')}`
  return undefined
}

/** The kinds, for the message that refuses another. */
export function errorKindTodo(): string {
  return `use one of ${ERROR_KINDS.map((k) => `'${k}'`).join(', ')}`
}

/** expectTainted's letters: a non-empty string of the kernel's taint letters. */
export function taintProblem(flags: unknown): { problem: string; todo: string } | undefined {
  const letters = TAINT_FLAGS.map((f) => f.letter).join('')
  if (typeof flags !== 'string') return { problem: `taint letters must be a string, got ${formatValue(flags)}`, todo: "write expectTainted('OE')" }
  if (flags === '')
    return { problem: 'an empty taint set checks nothing', todo: "give the letters to expect, e.g. expectTainted('OE'), or use expectNotTainted()" }
  const bad = [...flags].filter((c) => !letters.includes(c))
  if (bad.length > 0)
    return {
      problem: `${bad.map((c) => `'${c}'`).join(', ')} ${bad.length > 1 ? 'are not taint letters' : 'is not a taint letter'}`,
      todo: `use letters of ${letters}`,
    }
  return undefined
}

/** expectDmesg/expectNoDmesg options. */
export function dmesgOptionsProblem(options: unknown, allowExact: boolean): string | undefined {
  if (options === undefined) return undefined
  if (typeof options !== 'object' || options === null) return `options must be an object, got ${formatValue(options)}`
  const o = options as Record<string, unknown>
  for (const key of Object.keys(o)) if (key !== 'scope' && !(allowExact && key === 'exact')) return `unknown option '${key}'`
  if (o.scope !== undefined && o.scope !== 'action' && o.scope !== 'run') return `scope must be 'action' or 'run', got ${formatValue(o.scope)}`
  if (o.exact !== undefined && typeof o.exact !== 'boolean') return `exact must be true or false, got ${formatValue(o.exact)}`
  return undefined
}
