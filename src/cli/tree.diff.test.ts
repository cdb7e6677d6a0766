// The installed tree (tree: 'installed'): every fixtures/tree/*.sh on the simulator prints what the real
// kernel printed in the VM (fixtures/tree/captures, from scripts/capture-tree.mjs), command by command,
// timestamps and kernel addresses aside. Among them: a user's module that needs libcrc32c from the tree
// (crc-user.sh), and holders in sysfs's and /proc/modules' orders (holders.sh).
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { createSimBackend } from '../backends/sim.js'
import { readCapture } from '../backends/captures.js'
import { compareRuns, formatComparison, runScript } from './diff.js'
import { parseScript } from './script.js'

const root = process.cwd()
const dir = join(root, 'fixtures', 'tree')
const scripts = readdirSync(dir)
  .filter((f) => f.endsWith('.sh'))
  .sort()

test('every installed-tree script has a capture from the VM', () => {
  const captured = readdirSync(join(dir, 'captures'))
    .filter((f) => f.endsWith('.json'))
    .sort()
  expect(captured, 'capture the missing ones: npm run build && node scripts/capture-tree.mjs').toEqual(scripts.map((s) => s.replace(/\.sh$/, '.json')))
})

for (const script of scripts) {
  const name = script.replace(/\.sh$/, '')
  test(`${name}: the simulator with the installed tree prints what the VM printed`, async () => {
    const capture = readCapture(join(dir, 'captures', `${name}.json`), root)
    const commands = parseScript(readFileSync(join(dir, script), 'utf8'))
    expect(
      commands.map((c) => c.text),
      `${script} and its capture list different commands: node scripts/capture-tree.mjs ${name}`,
    ).toEqual(capture.commands.map((c) => c.cmd))
    const sim = await createSimBackend({ tree: 'installed' })
    try {
      const comparison = compareRuns(await runScript(sim, commands, root), { release: capture.release, steps: capture.commands })
      expect(comparison.differences, formatComparison(comparison, { name: script, color: false, lineOf: (i) => commands[i]?.line })).toEqual([])
    } finally {
      await sim.close()
    }
  })
}
