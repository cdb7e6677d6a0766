#!/usr/bin/env node
// Regenerates fixtures/captures/<name>.json: every fixtures/scripts/*.sh run on the real kernel
// in the QEMU VM (`kmodspec sh --backend qemu --json`). These captures are the ground truth the
// simulator is checked against. Usage: npm run build && node scripts/capture.mjs [NAME...]
import { readdir, writeFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const { toStored } = await import(path.join(root, 'dist', 'backends', 'captures.js'))
const scriptsDir = path.join(root, 'fixtures', 'scripts')
const outDir = path.join(root, 'fixtures', 'captures')
const cli = path.join(root, 'dist', 'cli', 'main.js')

const wanted = process.argv.slice(2).map((n) => n.replace(/\.sh$/, ''))
const scripts = (await readdir(scriptsDir)).filter((f) => f.endsWith('.sh')).map((f) => f.slice(0, -3)).sort()
const names = wanted.length ? wanted : scripts
for (const n of names) {
  if (!scripts.includes(n)) {
    process.stderr.write(`capture: no script fixtures/scripts/${n}.sh (have: ${scripts.join(', ')})\n`)
    process.exit(2)
  }
}
const { stdout: qemuVersion } = await execa('qemu-system-x86_64', ['--version'])
await mkdir(outDir, { recursive: true })
let failed = 0
for (const name of names) {
  const started = Date.now()
  const r = await execa('node', [cli, 'sh', '--backend', 'qemu', '--json', path.join('fixtures', 'scripts', `${name}.sh`)], { cwd: root, reject: false })
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
  const { stdout: release } = await execa('node', [
    '--input-type=module', '-e',
    "const {chooseKernel}=await import(process.argv[1]); process.stdout.write((await chooseKernel({})).release)",
    path.join(root, 'dist', 'backends', 'qemu', 'kernel.js'),
  ])
  const capture = toStored({ script: `fixtures/scripts/${name}.sh`, release, qemu: qemuVersion.split('\n')[0], backend: 'qemu', commands }, root)
  await writeFile(path.join(outDir, `${name}.json`), JSON.stringify(capture, null, 2) + '\n')
  const errors = commands.filter((c) => c.error).length
  process.stdout.write(`captured ${name}: ${commands.length} commands${errors ? `, ${errors} kernel failure(s)` : ''} (${Date.now() - started} ms)\n`)
}
process.exit(failed ? 1 : 0)
