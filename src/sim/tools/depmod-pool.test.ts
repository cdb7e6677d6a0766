// depmod's two-thread reading: the helper thread's facts (handed over as cache entries) must be what this
// thread reads itself, and a helper that dies must cost nothing but time. Vitest runs TypeScript sources,
// which a worker thread cannot load: the helper and what it imports are transpiled to a temporary folder.
import { closeSync, cpSync, mkdirSync, openSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { execa } from 'execa'
import ts from 'typescript'
import { dir as tmpDir } from 'tmp-promise'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { FactsCache } from './depmod-cache.js'
import { readAllFacts, setHelperUrl } from './depmod-pool.js'
import { readFactsFast } from './depmod-read.js'
import { depmod, DEPMOD_OUTPUTS } from './depmod.js'
import type { ToolContext } from './context.js'
import { Vfs } from '../vfs.js'
import { treeModules } from '../cpu/testkit.js'
import type { SimKernel } from '../kernel/types.js'

/** The helper's import graph, relative to src/. */
const HELPER_FILES = ['sim/tools/depmod-worker.ts', 'sim/tools/depmod-pool.ts', 'sim/tools/depmod-read.ts', 'sim/tools/depmod-segment.ts', 'elf/rawtext.ts']

function serial(path: string) {
  const fd = openSync(path, 'r')
  try {
    return readFactsFast(fd, statSync(path).size) ?? null
  } finally {
    closeSync(fd)
  }
}

let out: Awaited<ReturnType<typeof tmpDir>>
let worker: URL
beforeAll(async () => {
  out = await tmpDir({ unsafeCleanup: true })
  const src = fileURLToPath(new URL('../..', import.meta.url))
  for (const f of HELPER_FILES) {
    const js = ts.transpileModule(readFileSync(join(src, f), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
    }).outputText
    const to = join(out.path, f.replace(/\.ts$/, '.js'))
    mkdirSync(dirname(to), { recursive: true })
    writeFileSync(to, js)
  }
  writeFileSync(join(out.path, 'package.json'), '{"type":"module"}\n')
  worker = pathToFileURL(join(out.path, 'sim/tools/depmod-worker.js'))
})
afterAll(async () => {
  await out.cleanup()
})

describe('reading on two threads', () => {
  test('every module of the installed 6.1 tree: the helper posts what this thread would read', async () => {
    const hosts = treeModules()
    const stats = hosts.map((p) => statSync(p))
    const keys = hosts.map((p) => `/key${p}`)
    const sizes = stats.map((s) => s.size)
    const mtimes = stats.map((s) => s.mtimeMs)
    const { facts, segments } = readAllFacts({ hosts, keys, sizes, mtimes }, { worker, minFiles: 0 })
    // the helper read some chunks (it starts while this thread reads), this thread the others
    expect(segments.length).toBeGreaterThan(0)
    expect(facts.filter((f) => f !== undefined).length).toBeGreaterThan(0)
    const cacheHome = await tmpDir({ unsafeCleanup: true })
    try {
      const cache = new FactsCache('/nonexistent-tree', cacheHome.path)
      for (const seg of segments) expect(cache.absorb(seg).length).toBeGreaterThan(0)
      hosts.forEach((p, i) => {
        const got = facts[i] === undefined ? cache.get(keys[i]!, stats[i]!) : facts[i]
        expect(got, p).toEqual(serial(p))
      })
    } finally {
      await cacheHome.cleanup()
    }
  }, 120_000)

  test('a helper that claims a chunk and stops, or hangs: this thread reads that chunk too', () => {
    const hosts = treeModules().slice(0, 500)
    const sizes = hosts.map((p) => statSync(p).size)
    const data = { hosts, keys: hosts, sizes, mtimes: sizes.map(() => 0) }
    const helpers = {
      // what the real helper's finally does after an exception
      stops: 'Atomics.add(workerData.shared, 0, 1); Atomics.store(workerData.shared, 2, 1); Atomics.notify(workerData.shared, 1)',
      hangs: 'Atomics.add(workerData.shared, 0, 1); setInterval(() => {}, 1000)',
      throws: "throw new Error('no helper today')",
    }
    for (const [name, body] of Object.entries(helpers)) {
      const url = pathToFileURL(join(out.path, `${name}-worker.js`))
      writeFileSync(url, `import { workerData } from 'node:worker_threads'\n${body}\n`)
      const started = Date.now()
      const { facts, segments } = readAllFacts(data, { worker: url, minFiles: 0, stallMs: 300 })
      expect(segments, name).toEqual([])
      hosts.forEach((p, i) => expect(facts[i], `${name}: ${p}`).toEqual(serial(p)))
      // stopping is seen at once; a hang costs the stall time (well under the test's limit)
      if (name === 'stops') expect(Date.now() - started).toBeLessThan(5000)
    }
  })

  test('no built helper (as under vitest) or a small tree: this thread reads everything', () => {
    const hosts = treeModules().slice(0, 100)
    const sizes = hosts.map((p) => statSync(p).size)
    const data = { hosts, keys: hosts, sizes, mtimes: sizes.map(() => 0) }
    for (const run of [readAllFacts(data), readAllFacts(data, { worker, minFiles: 1000 })]) {
      expect(run.segments).toEqual([])
      hosts.forEach((p, i) => expect(run.facts[i], p).toEqual(serial(p)))
    }
  })
})

describe('depmod with its helper thread (the built package has one; vitest gets a transpiled copy)', () => {
  const R = '6.1.0-56-amd64'
  const noKernel = { release: R, readFile: () => undefined, listDir: () => undefined } as unknown as SimKernel

  test("the installed 6.1 tree: a first run (files stamped as they are read), a repeated and a touched run give kmod 30 depmod -b's files", async () => {
    const root = await tmpDir({ unsafeCleanup: true })
    const cacheHome = await tmpDir({ unsafeCleanup: true })
    const saved = process.env.XDG_CACHE_HOME
    const old = setHelperUrl(worker)
    try {
      process.env.XDG_CACHE_HOME = cacheHome.path
      const d = join(root.path, 'lib/modules', R)
      mkdirSync(d, { recursive: true })
      symlinkSync(`/lib/modules/${R}/kernel`, join(d, 'kernel'))
      for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) cpSync(`/lib/modules/${R}/${f}`, join(d, f))
      await execa('/sbin/depmod', ['-b', root.path, R])
      const want = DEPMOD_OUTPUTS.map((f) => readFileSync(join(d, f)))
      const run = (label: string) => {
        for (const f of DEPMOD_OUTPUTS) rmSync(join(d, f))
        let err = ''
        const vfs = new Vfs({ release: R, kernel: noKernel, sysroot: root.path })
        const ctx = { kernel: noKernel, vfs, release: R, cwd: '/', out: () => {}, err: (t: string) => void (err += t) } as unknown as ToolContext
        expect(depmod(ctx, ['depmod', '-a']), label).toBe(0)
        expect(err, label).toBe('')
        DEPMOD_OUTPUTS.forEach((f, i) => expect(readFileSync(join(d, f)).equals(want[i]!), `${label}: ${f}`).toBe(true))
      }
      run('first')
      const kept = DEPMOD_OUTPUTS.map((f) => statSync(join(d, f)).ino)
      run('repeated')
      // replayed: each output is a link to the file the first run kept (its own output), not a file written again
      DEPMOD_OUTPUTS.forEach((f, i) => expect(statSync(join(d, f)).ino, f).toBe(kept[i]))
      writeFileSync(join(d, 'modules.order'), readFileSync(join(d, 'modules.order')))
      run('modules.order rewritten')
    } finally {
      setHelperUrl(old)
      if (saved === undefined) delete process.env.XDG_CACHE_HOME
      else process.env.XDG_CACHE_HOME = saved
      await root.cleanup()
      await cacheHome.cleanup()
    }
  }, 120_000)
})
