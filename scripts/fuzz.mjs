#!/usr/bin/env node
// `npm run fuzz -- --cases N [--seed S] [--from K] [--no-build]`: corrupted modules through every
// simulated tool (src/sim/fuzz). Cases run in a worker thread watched from here, so even a loop that
// never returns is reported as a hang (with its seed and case number) instead of stopping the run.
// Prints one line per failure with the command that reproduces it, then the totals; exit 1 on any failure.
import process from 'node:process'
import { performance } from 'node:perf_hooks'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { execa } from 'execa'

/** A case that sends no progress for this long is a hang. */
const WATCHDOG_MS = 30_000

function parseArgs(argv) {
  const o = { cases: 100_000, seed: 20261126, from: 0, build: true }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const num = () => {
      const v = Number(argv[++i])
      if (!Number.isInteger(v) || v < 0) {
        console.error(`fuzz: ${a} takes a whole number, e.g. ${a} 1000`)
        process.exit(2)
      }
      return v
    }
    if (a === '--cases') o.cases = num()
    else if (a === '--seed') o.seed = num()
    else if (a === '--from') o.from = num()
    else if (a === '--no-build') o.build = false
    else {
      console.error(`fuzz: unknown argument '${a}': use --cases N, --seed S, --from K, --no-build`)
      process.exit(2)
    }
  }
  return o
}

async function worker() {
  const { seed, from, to } = workerData
  const { loadEmbeddedProfile } = await import('../dist/profile/index.js')
  const { fixtureBases } = await import('../dist/sim/fuzz/bases.js')
  const { runFuzzCase } = await import('../dist/sim/fuzz/run.js')
  const profile = await loadEmbeddedProfile()
  const bases = fixtureBases('fixtures', profile)
  for (let c = from; c < to; c++) {
    parentPort.postMessage({ type: 'start', caseNo: c })
    const r = runFuzzCase(profile, bases, seed, c)
    parentPort.postMessage({ type: 'done', caseNo: c, failures: r.failures, kernelFaults: r.kernelFaults })
  }
  parentPort.postMessage({ type: 'end' })
}

async function main() {
  const o = parseArgs(process.argv.slice(2))
  if (o.build) {
    const built = await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit', reject: false })
    // tsc still writes dist/ on type errors; say so rather than stop (the fuzzer runs what was emitted).
    if (built.exitCode !== 0) console.error('fuzz: tsc reported type errors (above); running the JavaScript it emitted anyway')
  }
  const { describeFailure } = await import('../dist/sim/fuzz/run.js')
  const started = performance.now()
  const end = o.from + o.cases
  const failures = []
  let kernelFaults = 0
  let done = 0
  let next = o.from
  while (next < end) {
    // One worker per stretch of cases; a hang ends it and the next one starts after the hung case.
    next = await new Promise((resolve, reject) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { seed: o.seed, from: next, to: end } })
      let current = next
      let timer
      const arm = () => {
        clearTimeout(timer)
        timer = setTimeout(() => {
          failures.push({
            seed: o.seed,
            caseNo: current,
            kind: 'hang',
            command: '(the case)',
            detail: `no progress for ${WATCHDOG_MS / 1000} s`,
            base: '?',
            how: [],
          })
          done++
          void w.terminate().then(() => resolve(current + 1))
        }, WATCHDOG_MS)
      }
      arm()
      w.on('message', (m) => {
        if (m.type === 'start') {
          current = m.caseNo
          arm()
        } else if (m.type === 'done') {
          done++
          kernelFaults += m.kernelFaults
          for (const f of m.failures) {
            failures.push(f)
            console.log(describeFailure(f))
          }
          if (done % 5000 === 0)
            console.log(`fuzz: ${done}/${o.cases} cases, ${failures.length} failures, ${((performance.now() - started) / 1000).toFixed(0)} s`)
        } else if (m.type === 'end') {
          clearTimeout(timer)
          void w.terminate().then(() => resolve(end))
        }
      })
      w.on('error', (e) => {
        clearTimeout(timer)
        // The worker itself died (out of memory, a native crash): a crash of the case it was on.
        failures.push({ seed: o.seed, caseNo: current, kind: 'crash', command: '(the case)', detail: String(e?.stack ?? e), base: '?', how: [] })
        console.log(describeFailure(failures.at(-1)))
        done++
        resolve(current + 1)
      })
      w.on('exit', () => clearTimeout(timer))
      void reject
    })
  }
  const count = (k) => failures.filter((f) => f.kind === k).length
  const secs = ((performance.now() - started) / 1000).toFixed(1)
  console.log(
    `fuzz: ${o.cases} cases (seed ${o.seed}, cases ${o.from}..${end - 1}) in ${secs} s: ${count('exception')} exceptions, ${count('hang')} hangs, ${count('crash')} crashes; ${kernelFaults} kernel oops/lockup reports (the kernel's own outcome, not failures)`,
  )
  process.exit(failures.length > 0 ? 1 : 0)
}

if (isMainThread) await main()
else await worker()
