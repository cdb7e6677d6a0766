// Imports flow one way (CONVENTIONS.md point 2): each layer lists the layers it may import.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'

const src = dirname(fileURLToPath(import.meta.url))

/** Layer → layers it may import (itself always allowed). `*` means any. */
const allowed: Record<string, string[]> = {
  contract: [],
  elf: ['contract'],
  profile: ['contract', 'elf'],
  build: ['contract', 'profile'],
  // The simulated CPU and the kernel functions it calls sit below the loader that runs them.
  'sim/cpu': ['contract', 'elf'],
  'sim/kapi': ['contract', 'sim/cpu/types'],
  'sim/kernel': ['contract', 'sim/cpu', 'sim/kapi', 'elf', 'profile'],
  sim: ['contract', 'sim/kernel', 'elf', 'profile'],
  observe: ['contract'],
  backends: ['contract', 'sim', 'sim/kernel', 'elf', 'profile', 'build', 'observe'],
  dsl: ['contract', 'backends/index', 'backends/types', 'observe', 'elf', 'profile', 'build', 'sim/kernel/types'],
  vitest: ['contract', 'dsl', 'backends/types', 'observe'],
  cli: ['*'],
  index: ['*'],
  architecture: ['*'],
}

function layerOf(file: string): string {
  const rel = relative(src, file).split(sep).join('/')
  for (const sub of ['sim/kernel', 'sim/cpu', 'sim/kapi']) if (rel.startsWith(`${sub}/`)) return sub
  const [first] = rel.split('/')
  return first!.replace(/\.(test\.)?ts$/, '')
}

/** The most specific name an import target matches in `allowed` (folder or single module). */
function targetNames(target: string): string[] {
  const rel = relative(src, target).split(sep).join('/').replace(/\.js$/, '')
  const parts = rel.split('/')
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'))
}

function* sources(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield* sources(path)
    // Tests and their support files (testing.ts, testkit.ts, testcc.ts, test-*.ts) may reach across layers.
    else if (/\.ts$/.test(entry.name) && !/\.test(-d)?\.ts$/.test(entry.name) && !/^(testing|testkit|testcc|test-[\w-]+)\.ts$/.test(entry.name)) yield path
  }
}

test('every import in src/ goes the way the layers allow', () => {
  const violations: string[] = []
  for (const file of sources(src)) {
    const layer = layerOf(file)
    const rules = allowed[layer]
    if (!rules) {
      violations.push(`${relative(src, file)}: layer '${layer}' has no rule in architecture.test.ts`)
      continue
    }
    if (rules.includes('*')) continue
    const text = readFileSync(file, 'utf8')
    for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
      const spec = match[1] ?? match[2]!
      const target = resolve(dirname(file), spec)
      const targetLayer = layerOf(target)
      if (targetLayer === layer) continue
      if (!targetNames(target).some((name) => rules.includes(name))) {
        violations.push(`${relative(src, file)} imports ${spec} (layer '${layer}' may import: ${rules.join(', ') || 'nothing of ours'})`)
      }
    }
  }
  expect(violations).toEqual([])
})

test('no process is started outside execa', () => {
  const offenders: string[] = []
  for (const file of sources(src)) {
    const text = readFileSync(file, 'utf8')
    if (/from ['"](node:)?child_process['"]|shell:\s*true/.test(text)) offenders.push(relative(src, file))
  }
  expect(offenders).toEqual([])
})
