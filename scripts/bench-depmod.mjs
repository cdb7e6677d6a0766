// The depmod figures of `npm run bench`: `kmodspec sh --sysroot DIR` running `depmod -a` over Debian's whole
// 6.1 tree against kmod 30's `depmod -b DIR`, as whole processes in the same run (wall time by the clock
// around each process, peak RSS from /usr/bin/time's %M), first with an empty facts cache, then repeated
// (all inputs unchanged: outputs replayed), then with modules.order touched (rendered from cached facts).
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { execa } from 'execa'
import { dir as tmpDir } from 'tmp-promise'
import { shares } from './bench-profile.mjs'

const { DEPMOD_OUTPUTS } = await import('../dist/sim/tools/depmod.js')

const R = '6.1.0-56-amd64'
const HOST = `/lib/modules/${R}`

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** depmod's phases by function name (src/sim/tools/...; the innermost named function on a sample's stack wins). */
const PHASES = [
  ['system calls', ['open', 'read', 'close', 'fstat', 'readdir', 'writeBuffer', 'writeString', 'link', 'unlink', 'rename']],
  ['reading the modules', ['readFactsFast', 'readOne', 'readChunk', 'readWith', 'prefetchFacts', 'loadFacts']],
  ['scan', ['scanHost', 'scan']],
  ['order and symbol table', ['kmodHashOrder', 'sortByOrderFile', 'resolvePlain', 'topoSort']],
  ['.bin indexes', ['insert', 'writeNode', 'addValue']],
  ['text outputs', ['render', 'allDeps', 'devnameLine', 'builtinIndex', 'builtinAliasIndex']],
  ['facts cache', ['encodeSegment', 'save', 'serialize', 'inputsKey', 'setMemo']],
  ['GC', ['(garbage collector)']],
  ['loading code', ['Script', 'compileSourceTextModule', 'compileForInternalLoader', 'compileFunction']],
]

/** Run argv under /usr/bin/time; wall ms (clock around the process) and peak RSS in MiB. */
async function measure(argv, env = {}) {
  const start = performance.now()
  const r = await execa('/usr/bin/time', ['-f', 'peak-rss-kb %M', ...argv], { env, reject: false })
  const ms = performance.now() - start
  if (r.exitCode !== 0) throw new Error(`bench: ${argv.join(' ')} exited ${r.exitCode}: ${r.stderr}`)
  const kb = Number(/peak-rss-kb (\d+)/.exec(r.stderr)?.[1])
  return { ms, mib: kb / 1024 }
}

/**
 * Figures [where, what, value] for depmod over the installed tree; `runs` samples of each (median).
 * @example figures.push(...(await depmodFigures(3)))
 */
export async function depmodFigures(runs = 3) {
  const root = await tmpDir({ unsafeCleanup: true })
  const cache = await tmpDir({ unsafeCleanup: true })
  try {
    const dir = join(root.path, 'lib/modules', R)
    mkdirSync(dir, { recursive: true })
    symlinkSync(join(HOST, 'kernel'), join(dir, 'kernel'))
    for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) cpSync(join(HOST, f), join(dir, f))
    const script = join(root.path, 'depmod.sh')
    writeFileSync(script, 'depmod -a\n')
    // the process floor: node's start, our imports and the simulated kernel's boot, with a command that does nothing
    const trivial = join(root.path, 'echo.sh')
    writeFileSync(trivial, 'echo\n')
    const clear = () => {
      for (const f of DEPMOD_OUTPUTS) rmSync(join(dir, f), { force: true })
    }
    const snapshot = () => DEPMOD_OUTPUTS.map((f) => readFileSync(join(dir, f)))

    const kmod = []
    const floor = []
    const first = []
    const again = []
    const touched = []
    let kmodOut
    let identical = true
    // the command's compiled code (src/cli/kmodspec.cts) kept in one place for every run, made by an untimed depmod
    // run first: as a user has it after any earlier kmodspec command; the facts cache is what each row varies
    const code = join(cache.path, 'code')
    const sim = (cacheHome, file = script) =>
      measure(['node', 'dist/cli/kmodspec.cjs', 'sh', '--sysroot', root.path, file], { XDG_CACHE_HOME: cacheHome, KMODSPEC_CODE_CACHE: code })
    await sim(join(cache.path, 'warm'))
    const floorCold = []
    for (let i = 0; i < runs; i++) {
      clear()
      kmod.push(await measure(['/sbin/depmod', '-b', root.path, R]))
      floor.push(await sim(join(cache.path, 'floor'), trivial))
      floorCold.push(await measure(['node', 'dist/cli/kmodspec.cjs', 'sh', '--sysroot', root.path, trivial], { KMODSPEC_CODE_CACHE: 'off' }))
      kmodOut = snapshot()
      // first run: an empty facts cache of its own
      const fresh = join(cache.path, `first-${i}`)
      clear()
      first.push(await sim(fresh))
      identical &&= snapshot().every((b, k) => b.equals(kmodOut[k]))
      // repeated run: the facts cache the first runs filled
      clear()
      again.push(await sim(fresh))
      identical &&= snapshot().every((b, k) => b.equals(kmodOut[k]))
      // modules.order touched: a new input, so the outputs are rendered again from the cached facts
      const t = Date.now() / 1000 + i
      utimesSync(join(dir, 'modules.order'), t, t)
      clear()
      touched.push(await sim(fresh))
      identical &&= snapshot().every((b, k) => b.equals(kmodOut[k]))
    }
    // where a first run's time goes: V8's sampling profiler over one more first run (its own process)
    const prof = join(cache.path, 'prof')
    clear()
    const profiled = await execa('node', ['--cpu-prof', '--cpu-prof-dir', prof, 'dist/cli/kmodspec.cjs', 'sh', '--sysroot', root.path, script], {
      env: { XDG_CACHE_HOME: join(cache.path, 'profiled'), KMODSPEC_CODE_CACHE: code },
      reject: false,
    })
    if (profiled.exitCode !== 0) throw new Error(`bench: the profiled depmod run exited ${profiled.exitCode}: ${profiled.stderr}`)
    const [file] = readdirSync(prof).filter((f) => f.endsWith('.cpuprofile'))
    const where = shares(JSON.parse(readFileSync(join(prof, file), 'utf8')), PHASES).join(', ')
    const k = { ms: median(kmod.map((x) => x.ms)), mib: median(kmod.map((x) => x.mib)) }
    const row = (label, xs) => {
      const ms = median(xs.map((x) => x.ms))
      const mib = median(xs.map((x) => x.mib))
      return [
        'depmod',
        `${label}, median of ${runs} (goal <= 1.0x time, <= 2x RSS)`,
        `${ms.toFixed(0)} ms ${(ms / k.ms).toFixed(2)}x, ${mib.toFixed(0)} MiB ${(mib / k.mib).toFixed(2)}x`,
      ]
    }
    return [
      ['depmod', `kmod 30 depmod -b DIR over ${HOST} (4,023 modules), median of ${runs}`, `${k.ms.toFixed(0)} ms, ${k.mib.toFixed(0)} MiB`],
      row('kmodspec sh --sysroot DIR, depmod -a, first run (empty facts cache)', first),
      [
        'depmod',
        `of which the process floor (the same sh running only echo: node, imports, boot), median of ${runs}`,
        `${median(floor.map((x) => x.ms)).toFixed(0)} ms, ${median(floor.map((x) => x.mib)).toFixed(0)} MiB`,
      ],
      [
        'depmod',
        `the process floor without the kept compiled code (KMODSPEC_CODE_CACHE=off), median of ${runs}`,
        `${median(floorCold.map((x) => x.ms)).toFixed(0)} ms, ${median(floorCold.map((x) => x.mib)).toFixed(0)} MiB`,
      ],
      ['depmod', 'where a first run goes (sampled, the whole process)', where],
      row('the same, repeated: every input unchanged, the last outputs replayed', again),
      row('the same, modules.order touched: rendered again from the facts cache', touched),
      ['depmod', "all 10 output files byte-identical to kmod's, every run", identical ? 'yes' : 'NO'],
    ]
  } finally {
    await root.cleanup()
    await cache.cleanup()
  }
}
