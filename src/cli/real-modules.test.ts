// The differential suite of real modules (issue 9): Debian's own 6.1 modules (crc32c_generic and
// libcrc32c, zsmalloc and zram, dummy, nfnetlink and nf_tables, loop, fuse, llc/stp/bridge, tun, brd)
// loaded, listed, read through /proc and /sys and removed by fixtures/real/*.sh. The simulator must
// print what the real kernel printed (fixtures/real/captures, from the VM), and the live VM must
// still print its capture. The .ko files are copied from the installed tree at test time.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import process from 'node:process'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createBackend } from '../backends/index.js'
import type { Backend } from '../backends/types.js'
import { readCapture } from '../backends/captures.js'
import { compareRuns, formatComparison, runScript, type ScriptRun } from './diff.js'
import { parseScript } from './script.js'
import { prepareRealModules } from '../../fixtures/real/modules.mjs'

const root = process.cwd()
const dir = join(root, 'fixtures/real')
/** registries.sh shows the booted kernel's own devices and filesystems: a capture to read, not one the simulator matches yet. */
const BASELINE = new Set(['registries'])
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.sh'))
  .map((f) => f.slice(0, -3))
  .filter((n) => !BASELINE.has(n))
  .sort()
const commandsOf = (name: string) => parseScript(readFileSync(join(dir, `${name}.sh`), 'utf8'))
const captureOf = (name: string): ScriptRun => {
  const c = readCapture(join(dir, 'captures', `${name}.json`), root)
  return { release: c.release, steps: c.commands }
}

let sim: Backend | undefined
let vm: Promise<Backend> | undefined
beforeAll(() => {
  prepareRealModules()
})
afterAll(async () => {
  await sim?.close()
  if (vm) await (await vm.catch(() => undefined))?.close()
})

function expectSame(name: string, actual: ScriptRun, expected: ScriptRun, labels: [string, string]): void {
  const c = compareRuns(actual, expected)
  const lineOf = (i: number) => commandsOf(name)[i]?.line
  if (c.differences.length > 0) expect.fail(formatComparison(c, { name: `fixtures/real/${name}.sh`, labels, lineOf }))
  expect(c.commands).toBe(expected.steps.length)
}

describe('real Debian 6.1 modules: simulator = real kernel', () => {
  test('the scripts are the ones captured', () => {
    expect(names.length).toBeGreaterThanOrEqual(9)
    for (const name of names)
      expect(
        commandsOf(name).map((c) => c.text),
        `${name}.sh changed since its capture: node fixtures/real/capture.mjs ${name}`,
      ).toEqual(captureOf(name).steps.map((s) => s.cmd))
  })

  for (const name of names) {
    test(`${name}: the simulator prints what the VM printed`, async () => {
      if (sim) await sim.reset()
      sim ??= await createBackend({ backend: 'sim' })
      expectSame(name, await runScript(sim, commandsOf(name), root), captureOf(name), ['simulator', 'VM capture'])
    })
  }

  for (const name of names) {
    test(`${name}: the live VM still prints its capture`, async () => {
      const first = vm === undefined
      vm ??= createBackend({ backend: 'qemu' })
      const b = await vm
      if (!first) await b.reset()
      expectSame(name, await runScript(b, commandsOf(name), root), captureOf(name), ['VM (live)', 'VM capture'])
    })
  }
})
