#!/usr/bin/env node
// `npm run test:matrix`: the fixture differential suite on every release with a capture set (the pinned
// 6.1.0-56-amd64, and each fixtures/captures/<release>: 6.12.117+deb12-amd64, 6.1.0-56-rt-amd64). It installs
// those kernels first (`kmodspec setup --if-missing --release ...`, from the sources), then replays each
// release's captures on that release's simulator, modules built for it with kbuild (cached in ~/.cache/kmodspec).
// `npm test` replays the pinned release's only; .ci/run runs both. Arguments after `--` go to vitest.
import { readdirSync } from 'node:fs'
import path from 'node:path'
import process from 'node:process'
import { execa } from 'execa'

const root = path.resolve(import.meta.dirname, '..')
const capturesDir = path.join(root, 'fixtures', 'captures')
const releases = readdirSync(capturesDir, { withFileTypes: true })
  .filter((e) => e.isDirectory() && readdirSync(path.join(capturesDir, e.name)).some((f) => f.endsWith('.json')))
  .map((e) => e.name)
  .sort()
const started = Date.now()
const setup = await execa('node', ['scripts/vm-setup.mjs', '--if-missing', ...releases.flatMap((r) => ['--release', r])], {
  cwd: root,
  stdio: 'inherit',
  reject: false,
})
if (setup.exitCode !== 0) console.error(`kmodspec: test:matrix needs the kernels of ${releases.join(', ')}: the suite below fails for each one missing`)
const suite = ['src/backends/sim.captures.test.ts', 'src/sim/kernel/captures.test.ts', 'src/build/release-fixtures.test.ts', 'src/profile/loader.test.ts']
console.log(`\n=== the fixture differential suite on every captured release (KMODSPEC_CAPTURE_RELEASES=all) ===`)
const r = await execa('npx', ['vitest', 'run', ...suite, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  reject: false,
  env: { KMODSPEC_CAPTURE_RELEASES: 'all', KMODSPEC_BACKEND: 'sim' },
})
console.log(`\ntest:matrix: ${r.exitCode === 0 ? 'passed' : 'failed'} in ${((Date.now() - started) / 1000).toFixed(0)} s`)
process.exitCode = r.exitCode ?? 1
