#!/usr/bin/env node
// Captures the installed-tree scripts (fixtures/tree/*.sh) on the real kernel in the QEMU VM with
// `kmodspec sh --backend qemu --tree installed --json`, into fixtures/tree/captures/<name>.json: the
// ground truth src/cli/tree.diff.test.ts checks the simulator against.
// Usage: npm run build && node scripts/capture-tree.mjs [NAME...]
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const { toStored } = await import(path.join(root, 'dist', 'backends', 'captures.js'))
const { EMBEDDED_RELEASE } = await import(path.join(root, 'dist', 'profile', 'index.js'))
const dir = path.join(root, 'fixtures', 'tree')
const outDir = path.join(dir, 'captures')
const scripts = (await readdir(dir))
  .filter((f) => f.endsWith('.sh'))
  .map((f) => f.slice(0, -3))
  .sort()
const wanted = process.argv.slice(2).map((n) => n.replace(/\.sh$/, ''))
for (const n of wanted) {
  if (!scripts.includes(n)) {
    process.stderr.write(`capture-tree: no script fixtures/tree/${n}.sh (have: ${scripts.join(', ')})\n`)
    process.exit(2)
  }
}
const { stdout: qemu } = await execa('qemu-system-x86_64', ['--version'])
await mkdir(outDir, { recursive: true })
let failed = 0
for (const name of wanted.length ? wanted : scripts) {
  const started = Date.now()
  const script = path.join(dir, `${name}.sh`)
  const r = await execa(
    'node',
    [path.join(root, 'dist', 'cli', 'main.js'), 'sh', '--backend', 'qemu', '--release', EMBEDDED_RELEASE, '--tree', 'installed', '--json', script],
    { cwd: root, reject: false },
  )
  const commands = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
  if (commands.length === 0) {
    failed++
    process.stderr.write(`capture-tree: ${name}: no JSON (exit ${r.exitCode}):\n${r.stderr}\n`)
    continue
  }
  const capture = toStored(
    { script: `fixtures/tree/${name}.sh`, release: EMBEDDED_RELEASE, qemu: qemu.split('\n')[0], backend: 'qemu', tree: 'installed', commands },
    root,
  )
  await writeFile(path.join(outDir, `${name}.json`), JSON.stringify(capture, null, 2) + '\n')
  process.stdout.write(`${name}: ${commands.length} commands in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
}
process.exit(failed ? 1 : 0)
