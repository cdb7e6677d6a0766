// How much of a real module tree the simulator models: every module loaded into a fresh simulated
// kernel after its modules.dep dependencies, sorted by what its own finit_module ended in.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { KernelProfile } from '../../profile/types.js'
import { SimKernelFault } from './exec.js'
import { createSimKernel, type SimKernel } from './index.js'

/** The note kapi's stand-in adds when module code calls a kernel function nobody modelled. */
const UNMODELLED = /^(\S+): not modelled by the simulator; it returned 0$/
/** What the loader logs when it refuses a module before its init runs. */
const REFUSED = /Unknown symbol|disagrees about version|Unknown rela|overflow in relocation|section alignment|module layout/

/** Where one module's load ended. */
export type CoverageOutcome =
  /** It and its dependencies loaded, their inits (where they have one) returned 0 and called no unmodelled function: the figure. */
  | 'complete'
  /** Its init, or a dependency's, called at least one unmodelled kernel function. */
  | 'unmodelled'
  /** init returned an error without calling an unmodelled function. */
  | 'init-error'
  /** The load was refused before init (a dependency failed to load, an unknown symbol, a relocation). */
  | 'refused'
  /** The simulated kernel oopsed, hung or panicked in init. */
  | 'fault'

/** finit_module: true on 0, false on an error, 'fault' when the simulated kernel died (own module only). */
function load(k: SimKernel, image: Uint8Array, own = false): boolean | 'fault' {
  try {
    return k.finitModule(image, '', 0) === 0
  } catch (e) {
    if (!(e instanceof SimKernelFault)) throw e
    return own ? 'fault' : false
  }
}

export interface CoverageReport {
  modules: number
  outcomes: Record<CoverageOutcome, number>
  /** For each unmodelled function: how many modules' loads (own init or a dependency's) called it, most first. */
  unmodelled: Array<{ name: string; modules: number }>
  ms: number
}

/** modules.dep of a tree: path -> its dependencies' paths, in the order the file lists them. */
function readDeps(tree: string): Map<string, string[]> {
  const deps = new Map<string, string[]>()
  const file = join(tree, 'modules.dep')
  if (!existsSync(file)) throw new Error(`${file} is missing: give the directory of an installed module tree (/lib/modules/RELEASE)`)
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    deps.set(
      line.slice(0, colon),
      line
        .slice(colon + 1)
        .split(/\s+/)
        .filter(Boolean),
    )
  }
  return deps
}

/**
 * Loads every module of the tree `tree` (/lib/modules/RELEASE) into its own simulated kernel, after
 * its dependencies (deepest first, as modprobe does), and counts how its own load ended.
 * @example
 * const r = treeCoverage(profile, '/lib/modules/6.1.0-56-amd64')
 * console.log(r.outcomes.complete / r.modules)
 */
export function treeCoverage(profile: KernelProfile, tree: string, options: { every?: number } = {}): CoverageReport {
  const started = Date.now()
  const deps = readDeps(tree)
  const images = new Map<string, Uint8Array>()
  const image = (rel: string): Uint8Array => {
    let b = images.get(rel)
    if (!b) images.set(rel, (b = new Uint8Array(readFileSync(join(tree, rel)))))
    return b
  }
  const outcomes: Record<CoverageOutcome, number> = { complete: 0, unmodelled: 0, 'init-error': 0, refused: 0, fault: 0 }
  const counts = new Map<string, number>()
  const every = options.every ?? 1
  const all = [...deps.keys()].sort().filter((_, i) => i % every === 0)
  for (const rel of all) {
    const k = createSimKernel({ profile })
    const missing = new Set<string>()
    const take = () => {
      for (const n of k.takeNotes()) {
        const name = UNMODELLED.exec(n)?.[1]
        if (name) missing.add(name)
      }
    }
    let depFailed = false
    // modules.dep lists the deepest dependency last: modprobe inserts from the end.
    for (const d of [...deps.get(rel)!].reverse()) {
      if (!load(k, image(d))) depFailed = true
      take()
    }
    const from = k.log.nextSeq()
    const ret = load(k, image(rel), true)
    take()
    for (const n of missing) counts.set(n, (counts.get(n) ?? 0) + 1)
    if (ret === 'fault') outcomes.fault++
    else if (missing.size) outcomes.unmodelled++
    else if (ret === true && !depFailed) outcomes.complete++
    else if (depFailed || k.log.since(from).some((r) => REFUSED.test(r.text))) outcomes.refused++
    else outcomes['init-error']++
  }
  const unmodelled = [...counts].map(([name, modules]) => ({ name, modules })).sort((a, b) => b.modules - a.modules || (a.name < b.name ? -1 : 1))
  return { modules: all.length, outcomes, unmodelled, ms: Date.now() - started }
}

/**
 * `npm run bench`'s coverage rows (scripts/bench.mjs): the share of the tree whose load is
 * 'complete', the outcome counts, and the 20 unmodelled functions called most, as text.
 * @example const { figures, top } = coverageFigures(profile, '/lib/modules/6.1.0-56-amd64')
 */
export function coverageFigures(profile: KernelProfile, tree: string): { figures: Array<[string, string, string]>; top: string } {
  const r = treeCoverage(profile, tree)
  const pct = (n: number) => `${((100 * n) / r.modules).toFixed(1)}%`
  const o = r.outcomes
  const figures: Array<[string, string, string]> = [
    [
      'sim',
      `coverage: modules of ${tree} whose init (and their dependencies') ran to completion calling no unmodelled function`,
      `${o.complete} of ${r.modules} (${pct(o.complete)})`,
    ],
    [
      'sim',
      `coverage: the rest: called an unmodelled function / init error / refused before init / oops or hang`,
      `${o.unmodelled} / ${o['init-error']} / ${o.refused} / ${o.fault}`,
    ],
    ['sim', 'coverage: time for the whole tree', `${(r.ms / 1000).toFixed(0)} s`],
  ]
  const top = r.unmodelled
    .slice(0, 20)
    .map((u, i) => `${String(i + 1).padStart(4)}. ${u.name.padEnd(36)} ${u.modules} modules`)
    .join('\n')
  return { figures, top: `the 20 unmodelled kernel functions called most (by how many modules' loads called them):\n${top}` }
}
