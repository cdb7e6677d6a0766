import { isKernelRun, type KernelRun } from '../../dsl/index.js'

export interface MatcherResult { pass: boolean; message: () => string; actual?: unknown; expected?: unknown }

/** The run a matcher looks at, or a failed result saying what to pass instead. */
export function runOf(received: unknown, matcher: string): KernelRun | MatcherResult {
  if (isKernelRun(received)) return received
  return { pass: false, message: () => `${matcher}() needs the result of awaiting a kernel() chain, got ${received === null ? 'null' : typeof received === 'object' ? (received.constructor?.name ?? 'object') : typeof received}: write expect(await kernel()...).${matcher}(...)` }
}

export function isResult(value: KernelRun | MatcherResult): value is MatcherResult {
  return 'pass' in value
}

export const not = (pass: boolean): string => (pass ? 'not ' : '')
