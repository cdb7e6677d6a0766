#!/usr/bin/env node
// `npm run bench`: speed figures, printed, never asserted. Runs on the built package (dist/).
//   sim:  one seed scenario end to end, the cost of one step, and of a 10,000-iteration loop in a module's init
//   qemu: start to first command ready, one command's round trip, time to a pristine kernel,
//         the same seed scenario, and the sim/VM time ratio
// `npm run bench -- --sim-only` skips the VM; `--no-build` uses dist/ as it is.
import { readFileSync } from 'node:fs'
import process from 'node:process'
import { performance } from 'node:perf_hooks'
import { execa } from 'execa'

if (!process.argv.includes('--no-build')) await execa('npm', ['run', '--silent', 'build'], { stdio: 'inherit' })
const { createBackend } = await import('../dist/backends/index.js')
const { parseScript } = await import('../dist/cli/script.js')
const { whereTimeGoes } = await import('./bench-profile.mjs')

const scenarioFile = 'fixtures/scripts/seed-hello-insmod.sh'
const scenario = parseScript(readFileSync(scenarioFile, 'utf8'))
const cwd = process.cwd()

/** Runs before a sim figure is taken: V8 keeps optimizing the hot paths for the first thousand or so runs (the first run is shown apart). */
const WARMUP = 2000
const ms = (t) => `${t.toFixed(t < 10 ? 3 : 1)} ms`
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function runScenario(backend) {
  const start = performance.now()
  for (const command of scenario) await backend.exec(command.argv, { cwd })
  return performance.now() - start
}

async function timeIt(fn, times) {
  const samples = []
  for (let i = 0; i < times; i++) {
    const start = performance.now()
    await fn()
    samples.push(performance.now() - start)
  }
  return median(samples)
}

const figures = []
const sim = await createBackend({ backend: 'sim' })
let simScenario
/** reset() then the scenario: what one test of a spec costs. */
let simTest
try {
  // Warm-up: the JIT compiles the hot paths and the caches of module images fill, as in any suite that runs
  // the scenario more than once; the first run is shown apart.
  await sim.reset()
  const firstRun = await runScenario(sim)
  for (let i = 0; i < WARMUP; i++) {
    await sim.reset()
    await runScenario(sim)
  }
  const samples = []
  const withReset = []
  for (let i = 0; i < 500; i++) {
    const t0 = performance.now()
    await sim.reset()
    const ran = await runScenario(sim)
    samples.push(ran)
    withReset.push(performance.now() - t0)
  }
  simScenario = median(samples)
  simTest = median(withReset)
  figures.push(['sim', `${scenarioFile} (${scenario.length} commands), the first run in this process`, ms(firstRun)])
  figures.push([
    'sim',
    `the same, each on a fresh kernel, median of 500 after ${WARMUP} warm-up runs (steady state: V8 still optimizes after hundreds)`,
    ms(simScenario),
  ])
  const scenarioWhere = await whereTimeGoes(async () => {
    await sim.reset()
    await runScenario(sim)
  }, 50)
  figures.push(['sim', "where the scenario's time goes (sampled; each run on a fresh kernel)", scenarioWhere.join(', ')])
  await sim.reset()
  const pair = async () => {
    await sim.exec(['insmod', 'fixtures/hello/hello_api.ko'], { cwd })
    await sim.exec(['rmmod', 'hello_api'], { cwd })
  }
  await timeIt(pair, WARMUP)
  const step = await timeIt(pair, 1000)
  figures.push(['sim', `one step (insmod or rmmod of hello_api, its init and exit run on the CPU), median of 1000 (goal <= 0.1 ms)`, ms(step / 2)])
  // Where that time goes: V8's sampling profiler over 500 insmod+rmmod pairs (scripts/bench-profile.mjs).
  await sim.reset()
  const where = await whereTimeGoes(async () => {
    await sim.exec(['insmod', 'fixtures/hello/hello_api.ko'], { cwd })
    await sim.exec(['rmmod', 'hello_api'], { cwd })
  }, 500)
  figures.push(['sim', "where a step's time goes (sampled)", where.join(', ')])
  // The module's own code on the simulated CPU: counter's init runs a loop over its `loops` parameter.
  const counter = (loops) =>
    timeIt(async () => {
      await sim.exec(['insmod', 'fixtures/exec/counter.ko', `loops=${loops}`], { cwd })
      await sim.exec(['rmmod', 'counter'], { cwd })
    }, 50)
  const loop0 = await counter(0)
  const loop10k = await counter(10000)
  figures.push(['sim', 'insmod+rmmod of fixtures/exec/counter.ko loops=0, median of 50', ms(loop0)])
  figures.push(['sim', 'the same with loops=10000 (a 10,000-iteration loop in init), median of 50', ms(loop10k)])
  figures.push(['sim', 'so the 10,000-iteration loop itself costs', ms(loop10k - loop0)])
  figures.push(['sim', 'reset to a pristine kernel, median of 50', ms(await timeIt(() => sim.reset(), 50))])
  // Memory: many kernels alive at once, each with the seed's two modules loaded.
  const kernels = []
  global.gc?.()
  const heapBefore = process.memoryUsage().heapUsed
  for (let i = 0; i < 100; i++) {
    const k = await createBackend({ backend: 'sim' })
    await k.exec(['insmod', 'fixtures/hello/hello_api.ko'], { cwd })
    await k.exec(['insmod', 'fixtures/hello/hello_feature.ko'], { cwd })
    kernels.push(k)
  }
  global.gc?.()
  const perKernel = (process.memoryUsage().heapUsed - heapBefore) / kernels.length
  figures.push([
    'sim',
    `heap per simulated kernel with 2 modules loaded (100 alive${global.gc ? '' : ', no --expose-gc'})`,
    `${(perKernel / 1024).toFixed(0)} KiB`,
  ])
  for (const k of kernels) await k.close()
  figures.push(['sim', 'process RSS after the sim runs', `${(process.memoryUsage().rss / 1048576).toFixed(0)} MiB`])
} finally {
  await sim.close()
}

// A fresh simulated kernel over the host's installed tree, then modprobe of a module with 5 dependencies
// (bochs: drm_vram_helper drm_ttm_helper ttm drm_kms_helper drm). Warm: after one such start in this process.
{
  const start = async () => {
    const k = await createBackend({ backend: 'sim', tree: 'installed' })
    try {
      const r = await k.exec(['modprobe', 'bochs'], { cwd })
      if (r.exitCode !== 0) throw new Error(`bench: modprobe bochs on the installed tree failed: ${r.stderr}`)
    } finally {
      await k.close()
    }
  }
  await start()
  const wall = []
  const cpu = []
  for (let i = 0; i < 10; i++) {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    await start()
    wall.push(performance.now() - t0)
    const c = process.cpuUsage(c0)
    cpu.push((c.user + c.system) / 1000)
  }
  figures.push([
    'sim',
    "kernel({ tree: 'installed' }) + modprobe bochs (6 modules), warm, median of 10 (goal <= 300 ms)",
    `${ms(median(wall))} (CPU ${ms(median(cpu))})`,
  ])
}

// Issue 9: the share of the installed tree's modules whose init the simulator models, and what to model
// next (src/sim/kernel/coverage.ts; a few minutes; `--no-coverage` skips it).
let coverageTop
if (!process.argv.includes('--no-coverage')) {
  const { coverageFigures } = await import('../dist/sim/kernel/coverage.js')
  const { loadEmbeddedProfile } = await import('../dist/profile/index.js')
  const coverage = coverageFigures(await loadEmbeddedProfile(), '/lib/modules/6.1.0-56-amd64')
  figures.push(...coverage.figures)
  coverageTop = coverage.top
}

// depmod over the installed tree against kmod 30's, whole processes (scripts/bench-depmod.mjs); `--no-depmod` skips it.
if (!process.argv.includes('--no-depmod')) {
  const { depmodFigures } = await import('./bench-depmod.mjs')
  // 5 samples of each: one machine hiccup moves a median of 3 by as much as the goal's margin
  figures.push(...(await depmodFigures(5)))
}

if (!process.argv.includes('--sim-only')) {
  // Cold: a full boot, no saved state.
  const coldStart = performance.now()
  const cold = await createBackend({ backend: 'qemu', stateCache: false })
  try {
    await cold.exec(['lsmod'], { cwd })
    figures.push(['qemu', 'start to first command answered, cold boot (no saved state)', ms(performance.now() - coldStart)])
  } finally {
    await cold.close()
  }
  // Warm: started from the saved post-boot state, as every test after the first is. The first start on a
  // machine (or after the settle recipe changed) boots and saves that state: do it before timing.
  await (await createBackend({ backend: 'qemu' })).close()
  const start = performance.now()
  const vm = await createBackend({ backend: 'qemu' })
  try {
    await vm.exec(['lsmod'], { cwd })
    figures.push(['qemu', 'start to first command answered, from the saved post-boot state', ms(performance.now() - start)])
    figures.push([
      'qemu',
      'one command round trip (cat /proc/sys/kernel/tainted), median of 20',
      ms(await timeIt(() => vm.exec(['cat', '/proc/sys/kernel/tainted'], { cwd }), 20)),
    ])
    figures.push(['qemu', 'reset to a pristine kernel, median of 5', ms(await timeIt(() => vm.reset(), 5))])
    const vmSamples = []
    const vmWithReset = []
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now()
      await vm.reset()
      vmSamples.push(await runScenario(vm))
      vmWithReset.push(performance.now() - t0)
    }
    const vmScenario = median(vmSamples)
    figures.push(['qemu', `${scenarioFile}, median of 5`, ms(vmScenario)])
    figures.push(['ratio', 'sim / VM time for the same scenario, the commands alone (goal >= 1 : 1000)', `1 : ${Math.round(vmScenario / simScenario)}`])
    figures.push([
      'ratio',
      `the same with each side's reset() before it, as each test of a spec runs (sim ${ms(simTest)}, VM ${ms(median(vmWithReset))})`,
      `1 : ${Math.round(median(vmWithReset) / simTest)}`,
    ])
  } finally {
    await vm.close()
  }
}

const width = Math.max(...figures.map(([, what]) => what.length))
for (const [where, what, value] of figures) console.log(`${where.padEnd(6)} ${what.padEnd(width)}  ${value}`)
if (coverageTop) console.log(`\n${coverageTop}`)
