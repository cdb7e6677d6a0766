#!/usr/bin/env node
// Regenerates the captures of the fixture scripts: every fixtures/scripts/*.sh run on the real kernel in
// the QEMU VM (`kmodspec sh --backend qemu --json`). These captures are the ground truth the simulator is
// checked against. The pinned release's go to fixtures/captures/<name>.json; with --release R (another
// installed kernel) the scripts run from a fixture tree built for R (src/build/release-fixtures.ts) and
// the captures go to fixtures/captures/R/<name>.json.
// Usage: npm run build && node scripts/capture.mjs [--release R] [NAME...]
import { existsSync } from 'node:fs'
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const { toStored, captureDir, scriptForRelease } = await import(path.join(root, 'dist', 'backends', 'captures.js'))
const { releaseFixtures } = await import(path.join(root, 'dist', 'build', 'release-fixtures.js'))
const { EMBEDDED_RELEASE } = await import(path.join(root, 'dist', 'profile', 'index.js'))
const scriptsDir = path.join(root, 'fixtures', 'scripts')
const cli = path.join(root, 'dist', 'cli', 'main.js')

let parsed
try {
  parsed = parseArgs({ allowPositionals: true, options: { release: { type: 'string' } } })
} catch (error) {
  process.stderr.write(`capture: ${error.message}\nusage: node scripts/capture.mjs [--release R] [NAME...]\n`)
  process.exit(2)
}
const release = parsed.values.release ?? EMBEDDED_RELEASE
const wanted = parsed.positionals.map((n) => n.replace(/\.sh$/, ''))
const scripts = (await readdir(scriptsDir))
  .filter((f) => f.endsWith('.sh'))
  .map((f) => f.slice(0, -3))
  .sort()
const names = wanted.length ? wanted : scripts
for (const n of names) {
  if (!scripts.includes(n)) {
    process.stderr.write(`capture: no script fixtures/scripts/${n}.sh (have: ${scripts.join(', ')})\n`)
    process.exit(2)
  }
}
const { stdout: qemuVersion } = await execa('qemu-system-x86_64', ['--version'])
// The directory the scripts run from: its fixtures/ holds modules built for the release.
const cwd = await releaseFixtures(release, { progress: true })
const outDir = captureDir(root, release)
await mkdir(outDir, { recursive: true })
let failed = 0
for (const name of names) {
  const started = Date.now()
  const script = scriptForRelease(await readFile(path.join(scriptsDir, `${name}.sh`), 'utf8'), release)
  // A script that loads modules the release's tree leaves out (printk/: it does not build on 6.8+) has no capture there.
  const missing = [...new Set([...script.replace(/^\s*#.*$/gm, '').matchAll(/\bfixtures\/([\w-]+)\//g)].map((m) => m[1]))].filter(
    (d) => !existsSync(path.join(cwd, 'fixtures', d)),
  )
  if (missing.length > 0) {
    process.stdout.write(`skipped ${name} on ${release}: its fixture tree has no ${missing.map((d) => `fixtures/${d}`).join(', ')}\n`)
    continue
  }
  const r = await execa('node', [cli, 'sh', '--backend', 'qemu', '--release', release, '--json', '-'], { cwd, input: script, reject: false })
  const lines = r.stdout.split('\n').filter(Boolean)
  let commands
  try {
    commands = lines.map((l) => JSON.parse(l))
  } catch {
    commands = undefined
  }
  if (!commands || commands.length === 0) {
    failed++
    process.stderr.write(`capture: ${name}: kmodspec sh gave no JSON (exit ${r.exitCode}):\n${r.stderr || r.stdout}\n`)
    continue
  }
  const capture = toStored({ script: `fixtures/scripts/${name}.sh`, release, qemu: qemuVersion.split('\n')[0], backend: 'qemu', commands }, cwd)
  await writeFile(path.join(outDir, `${name}.json`), JSON.stringify(capture, null, 2) + '\n')
  const errors = commands.filter((c) => c.error).length
  process.stdout.write(
    `captured ${name} on ${release}: ${commands.length} commands${errors ? `, ${errors} kernel failure(s)` : ''} (${Date.now() - started} ms)\n`,
  )
}
process.exit(failed ? 1 : 0)
