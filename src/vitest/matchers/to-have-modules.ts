import type { MatcherState } from 'vitest'
import { checkHolders, checkLoaded, checkLoadOrder, checkRefcount, type LoadedOptions } from '../../dsl/checks/index.js'
import { isResult, report, runOf, type MatcherResult } from './common.js'

/** The chain's expectLoaded at the end of the run (`.not`: expectNotLoaded). */
export function toHaveLoaded(this: MatcherState, received: unknown, name: string, options: LoadedOptions = {}): MatcherResult {
  const run = runOf(this, received, 'toHaveLoaded')
  if (isResult(run)) return run
  return report(this, 'toHaveLoaded', 'name', checkLoaded(run.modules, name, options))
}

/** The chain's expectRefcount at the end of the run (lsmod's Used by count). */
export function toHaveRefcount(this: MatcherState, received: unknown, name: string, refcount: number): MatcherResult {
  const run = runOf(this, received, 'toHaveRefcount')
  if (isResult(run)) return run
  const m = run.modules.find((x) => x.name === name)
  return report(this, 'toHaveRefcount', 'name, refcount', checkRefcount(m?.refcount, refcount, `${name} is not loaded`))
}

/** The chain's expectHolders at the end of the run (any order). */
export function toHaveHolders(this: MatcherState, received: unknown, name: string, holders: string[]): MatcherResult {
  const run = runOf(this, received, 'toHaveHolders')
  if (isResult(run)) return run
  const m = run.modules.find((x) => x.name === name)
  return report(
    this,
    'toHaveHolders',
    'name, holders',
    checkHolders(m?.holders, holders, `${name} is not loaded`),
    m ? { expected: [...holders].sort(), received: [...m.holders].sort() } : undefined,
  )
}

/** The chain's expectLoadOrder: these modules appeared in this order during the run (others ignored). */
export function toHaveLoadOrder(this: MatcherState, received: unknown, names: string[]): MatcherResult {
  const run = runOf(this, received, 'toHaveLoadOrder')
  if (isResult(run)) return run
  return report(this, 'toHaveLoadOrder', 'names', checkLoadOrder(run.loadOrder, names), {
    expected: names,
    received: run.loadOrder.filter((n) => names.includes(n)),
  })
}
