// The installed tree, live: every fixtures/tree/*.sh on the simulator and on the real kernel in the QEMU
// VM (both with tree: 'installed'), compared command by command as `kmodspec diff --tree installed` does.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { createBackend, type Backend } from '../backends/index.js'
import { compareRuns, formatComparison, runScript } from './diff.js'
import { parseScript } from './script.js'

const root = process.cwd()
const dir = join(root, 'fixtures', 'tree')
const scripts = readdirSync(dir)
  .filter((f) => f.endsWith('.sh'))
  .sort()
let vm: Backend

beforeAll(async () => {
  vm = await createBackend({ backend: 'qemu', tree: 'installed' })
})
afterAll(async () => vm?.close())

for (const script of scripts) {
  test(`${script}: simulator and VM print the same with the installed tree`, async () => {
    const commands = parseScript(readFileSync(join(dir, script), 'utf8'))
    const sim = await createBackend({ backend: 'sim', tree: 'installed' })
    try {
      await vm.reset()
      const comparison = compareRuns(await runScript(sim, commands, root), await runScript(vm, commands, root))
      expect(comparison.commands).toBe(commands.length)
      expect(comparison.differences, formatComparison(comparison, { name: script, color: false, lineOf: (i) => commands[i]?.line })).toEqual([])
    } finally {
      await sim.close()
    }
  })
}
