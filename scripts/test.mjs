#!/usr/bin/env node
// `npm test`: the whole suite. Unit tests and the behaviour specs on the simulated kernel, then
// the same specs on a real kernel in QEMU. With KMODSPEC_BACKEND set, the specs run on that
// backend only. Arguments after `--` are passed to vitest as filters.
// Ends with the 10 slowest test files over every pass, then one plain line, 'N passed, N failed', summed.
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import process from 'node:process'
import { execa } from 'execa'
import { file as tmpFile } from 'tmp-promise'

const filters = process.argv.slice(2)
const only = process.env.KMODSPEC_BACKEND

/** The Debian packages the real-kernel tests need: `kmodspec setup --if-missing` (src/cli/setup.ts, run from the sources by scripts/vm-setup.mjs) installs what is missing. */
async function provision() {
  const r = await execa('node', ['scripts/vm-setup.mjs', '--if-missing'], { stdio: 'inherit', reject: false })
  // Not provisioned here (not root, not Debian): the qemu pass below fails loudly, naming what is missing.
  if (r.exitCode !== 0) console.error('kmodspec: the real-kernel tests will fail until those packages are installed')
}

/** Each test file's wall time (ms) from vitest's JSON report, labelled with its pass's backend. */
const fileTimes = []

/** Run vitest once; returns its counts from the JSON report (and notes each file's time in fileTimes). */
async function pass(label, backend, args) {
  const report = await tmpFile({ postfix: '.json' })
  try {
    console.log(`\n=== ${label} (KMODSPEC_BACKEND=${backend}) ===`)
    const result = await execa('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report.path}`, ...args], {
      stdio: 'inherit',
      reject: false,
      env: { KMODSPEC_BACKEND: backend },
    })
    let counts = { passed: 0, failed: 0, skipped: 0 }
    try {
      const json = JSON.parse(readFileSync(report.path, 'utf8'))
      counts = { passed: json.numPassedTests, failed: json.numFailedTests, skipped: json.numPendingTests + json.numTodoTests }
      // A file that failed to load has no tests but is a failure all the same.
      counts.failed += json.testResults.filter((r) => r.status === 'failed' && r.assertionResults.length === 0).length
      for (const r of json.testResults)
        if (r.endTime > r.startTime) fileTimes.push({ file: relative(process.cwd(), r.name), backend, ms: r.endTime - r.startTime })
    } catch {
      counts.failed += 1
    }
    if (result.exitCode !== 0 && counts.failed === 0) counts.failed = 1
    return counts
  } finally {
    await report.cleanup()
  }
}

async function main() {
  await provision()
  // dist as `npm run build` makes it: tsc, then the bundled kmodspec command that some tests run
  await execa('npm', ['run', '--silent', 'build'], { stdio: 'inherit' })
  const passes = []
  if (only) {
    passes.push(['specs', only, filters.length > 0 ? filters : ['specs']])
  } else {
    passes.push(['unit tests and specs on the simulated kernel', 'sim', filters])
    passes.push(['specs on a real kernel in QEMU', 'qemu', ['--passWithNoTests', ...(filters.length > 0 ? filters : ['specs'])]])
  }
  const total = { passed: 0, failed: 0, skipped: 0 }
  for (const [label, backend, args] of passes) {
    const counts = await pass(label, backend, args)
    for (const key of Object.keys(total)) total[key] += counts[key]
  }
  if (fileTimes.length > 0) {
    console.log('\nslowest test files:')
    for (const { file, backend, ms } of fileTimes.sort((a, b) => b.ms - a.ms).slice(0, 10))
      console.log(`${(ms / 1000).toFixed(1).padStart(7)} s  ${file} (${backend})`)
  }
  const skipped = total.skipped > 0 ? `, ${total.skipped} skipped` : ''
  console.log(`\n${total.passed} passed, ${total.failed} failed${skipped}`)
  process.exitCode = total.failed > 0 ? 1 : 0
}

await main()
