// Imports only point down (CONVENTIONS.md points 1-2): the graph is computed from every src/**/*.ts file's import
// and export-from lines, and any upward or sideways edge between layers, or any cycle between files, fails.
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'

const src = dirname(fileURLToPath(import.meta.url))

/**
 * The layers, bottom up: a file may import files of its own layer and of layers with a lower rank, nothing else
 * (an equal rank is a sideways edge). A layer is the longest listed folder prefix of the file's path.
 */
const ranks: Record<string, number> = {
  contract: 0,
  elf: 1,
  profile: 2, // reads the symbols of .ko files with elf/
  'sim/cpu': 3,
  'sim/kapi': 4, // the kernel functions module code calls, on the CPU's ABI
  'sim/kernel': 5, // the loader: maps modules and runs them on cpu + kapi
  sim: 6, // sim/vfs.ts: the simulated machine's files, over the kernel's /proc and /sys
  'sim/tools': 7, // kmod's tools over the kernel's syscalls and the files
  'sim/fuzz': 8, // drives the tools with corrupted modules
  observe: 3, // parsers of what real tools print: need only the contract
  build: 3, // kbuild against a profile's headers
  backends: 9,
  dsl: 10,
  vitest: 11,
  cli: 11,
  index: 12, // src/index.ts, the package's entry
}

/** The layer of a path relative to src/ ('sim/kernel/load.ts' → 'sim/kernel'); undefined when no layer is listed. */
function layerOf(file: string): string | undefined {
  const parts = file.replace(/\.ts$/, '').split('/')
  for (let n = parts.length; n > 0; n--) {
    const name = parts.slice(0, n).join('/')
    if (name in ranks) return name
  }
  return undefined
}

/**
 * Test code: *.test.ts, type tests *.test-d.ts and benchmarks *.bench.ts, and their support files, named testing.ts, testkit.ts, testcc.ts
 * or test-*.ts, or kept in a testing/ folder. Test code sits above every layer: it may import any of them.
 */
const isTestCode = (file: string): boolean =>
  /\.(test|test-d|bench)\.ts$/.test(file) || /(^|\/)(testing|testkit|testcc|test-[\w-]+)\.ts$/.test(file) || /(^|\/)testing\//.test(file)

/** Relative module specifiers of a source text: static imports, export-from, side-effect and dynamic imports. */
export function importSpecifiers(text: string): string[] {
  const specs: string[] = []
  const statement =
    /^[ \t]*(?:import|export)\b[^;'"`]*?\bfrom[ \t\n]*['"](\.{1,2}\/[^'"]+)['"]|^[ \t]*import[ \t]*['"](\.{1,2}\/[^'"]+)['"]|\bimport\([ \t]*['"](\.{1,2}\/[^'"]+)['"][ \t]*\)/gm
  for (const m of text.matchAll(statement)) specs.push((m[1] ?? m[2] ?? m[3])!)
  return specs
}

/** Every .ts file under root (paths relative to root, '/'-separated) → the files it imports. */
export function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const targets = importSpecifiers(readFileSync(path, 'utf8')).map((spec) => resolveImport(root, path, spec))
        graph.set(toKey(root, path), targets)
      }
    }
  }
  walk(root)
  return graph
}

const toKey = (root: string, path: string): string => relative(root, path).split(sep).join('/')

/** A specifier as NodeNext resolves ours: './x.js' is x.ts, a folder is its index.ts; a missing file stays as written. */
function resolveImport(root: string, from: string, spec: string): string {
  const target = resolve(dirname(from), spec)
  for (const candidate of [target.replace(/\.js$/, '.ts'), join(target, 'index.ts'), target]) {
    try {
      if (statSync(candidate).isFile()) return toKey(root, candidate)
    } catch {
      // no such file: try the next form
    }
  }
  return `${toKey(root, target)} (missing)`
}

/**
 * What is wrong with a graph: imports that leave the known files, upward or sideways imports between layers, and
 * cycles. Test code sits on top: it may import any layer, is never imported by code that ships, and counts for cycles.
 */
export function layerViolations(graph: ReadonlyMap<string, readonly string[]>, layer: (file: string) => string | undefined = layerOf): string[] {
  const problems: string[] = []
  for (const [file, targets] of graph) {
    const test = isTestCode(file)
    const from = layer(file)
    if (from === undefined && !test) problems.push(`${file}: in no layer (add its folder to the ranks in architecture.test.ts)`)
    for (const target of targets) {
      // Test code may read a data module outside src/ (fixtures/real/modules.mjs); code that ships may not.
      if (!graph.has(target)) {
        if (!(test && !target.endsWith('(missing)') && target.startsWith('../')))
          problems.push(`${file} imports ${target}, which is not a source file under src/`)
        continue
      }
      const to = layer(target)
      if (isTestCode(target) && !test) problems.push(`${file} imports the test code ${target}`)
      if (test || from === undefined || to === undefined || from === to) continue
      if (ranks[to]! >= ranks[from]!)
        problems.push(`${file} imports ${target}: ${from} may not import ${to} (${ranks[to] === ranks[from] ? 'sideways' : 'upward'})`)
    }
  }
  for (const cycle of cycles(graph)) problems.push(`import cycle: ${[...cycle, cycle[0]].join(' -> ')}`)
  return problems
}

/** Every cycle as one path through its strongly connected component (Tarjan), files in import order. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const visit = (v: string): void => {
    index.set(v, index.size)
    low.set(v, index.get(v)!)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) !== index.get(v)) return
    const component: string[] = []
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w)
      component.push(w)
      if (w === v) break
    }
    if (component.length > 1 || graph.get(v)?.includes(v)) found.push(pathThrough(graph, new Set(component), v))
  }
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v)
  return found
}

/** A shortest cycle from start back to start inside one component (breadth first), for a readable message. */
function pathThrough(graph: ReadonlyMap<string, readonly string[]>, component: ReadonlySet<string>, start: string): string[] {
  const previous = new Map<string, string>()
  const queue = [start]
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i]!
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue
      if (w === start) {
        const path = [v]
        for (let p = previous.get(v); p !== undefined; p = previous.get(p)) path.unshift(p)
        return path
      }
      if (!previous.has(w) && w !== start) {
        previous.set(w, v)
        queue.push(w)
      }
    }
  }
  return [start]
}

test('every import in src/ points down the layers, and no files import each other in a cycle', () => {
  const graph = importGraph(src)
  expect(graph.size).toBeGreaterThan(200)
  expect(layerViolations(graph)).toEqual([])
})

describe('the check can fail', () => {
  test('on an upward import, a sideways one, an import of a test file and a cycle (a synthetic graph)', () => {
    const graph = new Map<string, string[]>([
      ['contract/backend.ts', []],
      ['sim/kernel/types.ts', ['contract/backend.ts', 'backends/types.ts']],
      ['backends/types.ts', ['contract/backend.ts']],
      ['observe/lsmod.ts', ['build/cache.ts']],
      ['build/cache.ts', []],
      ['sim/tools/config.ts', ['sim/tools/kmodlib.ts']],
      ['sim/tools/kmodlib.ts', ['sim/tools/modprobe.ts']],
      ['sim/tools/modprobe.ts', ['sim/tools/config.ts']],
      ['sim/tools/modprobe.test.ts', ['cli/sh.ts', 'sim/tools/testkit.ts']],
      ['sim/tools/testkit.ts', ['backends/types.ts']],
      ['cli/sh.ts', ['sim/tools/testkit.ts']],
      ['cli/main.ts', ['../fixtures/real/modules.mjs']],
    ])
    expect(layerViolations(graph)).toEqual([
      'sim/kernel/types.ts imports backends/types.ts: sim/kernel may not import backends (upward)',
      'observe/lsmod.ts imports build/cache.ts: observe may not import build (sideways)',
      'cli/sh.ts imports the test code sim/tools/testkit.ts',
      'cli/main.ts imports ../fixtures/real/modules.mjs, which is not a source file under src/',
      'import cycle: sim/tools/config.ts -> sim/tools/kmodlib.ts -> sim/tools/modprobe.ts -> sim/tools/config.ts',
    ])
  })

  test('on files written to a temporary src/ tree: an upward import and a two-file cycle, found by parsing', () => {
    const root = mkdtempSync(join(tmpdir(), 'kmodspec-architecture-'))
    try {
      const write = (file: string, text: string): void => {
        mkdirSync(dirname(join(root, file)), { recursive: true })
        writeFileSync(join(root, file), text)
      }
      const dynamic = 'import' // kept apart so this file's own text holds no import of the fixture
      write('contract/backend.ts', "import type { Backend } from '../backends/index.js'\nexport type X = Backend\n")
      write('backends/index.ts', "export { y } from './sim.js'\n")
      write('backends/sim.ts', "import {\n  x,\n} from './index.js'\nexport const y = x\n")
      write('dsl/chain.ts', `// import { z } from '../cli/main.js' (a comment, not an import)\nconst sim = await ${dynamic}('../backends/sim.js')\n`)
      const graph = importGraph(root)
      expect(graph.get('dsl/chain.ts')).toEqual(['backends/sim.ts'])
      expect(layerViolations(graph)).toEqual([
        'contract/backend.ts imports backends/index.ts: contract may not import backends (upward)',
        'import cycle: backends/index.ts -> backends/sim.ts -> backends/index.ts',
      ])
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})

test('no process is started outside execa', () => {
  const offenders = [...importGraph(src).keys()].filter((file) =>
    /from ['"](node:)?child_process['"]|shell:\s*true/.test(readFileSync(join(src, file), 'utf8')),
  )
  expect(offenders).toEqual([])
})

test("the README's layout table names every layer folder, and only folders that exist", () => {
  const readme = readFileSync(join(src, '..', 'README.md'), 'utf8')
  const table = readme.slice(readme.indexOf('## Layout'))
  const rows = [...table.matchAll(/^\| `src\/([\w/]+)\/` \|/gm)].map((m) => m[1]!).sort()
  const folders = Object.keys(ranks)
    .filter((layer) => statSync(join(src, layer), { throwIfNoEntry: false })?.isDirectory())
    .sort()
  expect(rows).toEqual(folders)
})
