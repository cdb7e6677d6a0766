// The differential suite: every fixtures/scripts/*.sh runs live on the real kernel in the QEMU VM.
// The live run must match its capture (so the captures the simulator is checked against cannot
// go stale), and the simulator must match the live run. Needs the VM: never skipped.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import process from 'node:process'
import { dir as tmpDir } from 'tmp-promise'
import { afterAll, afterEach, describe, expect, test, vi } from 'vitest'
import { createBackend } from '../backends/index.js'
import type { Backend } from '../backends/types.js'
import { readCapture } from '../backends/captures.js'
import { compareRuns, formatComparison, main, runScript, type ScriptRun } from './diff.js'
import { parseScript } from './script.js'

const root = process.cwd()
const scriptsDir = join(root, 'fixtures/scripts')
const capturesDir = join(root, 'fixtures/captures')
const names = readdirSync(scriptsDir)
  .filter((f) => f.endsWith('.sh'))
  .map((f) => f.slice(0, -3))
  .sort()

/** A backend for the whole file, started on first use; each script after the first gets a reset. */
function shared(backend: 'sim' | 'qemu') {
  let started: Promise<Backend> | undefined
  let used = false
  return {
    async run(name: string): Promise<ScriptRun> {
      started ??= createBackend({ backend }).catch((error: unknown) => {
        const hint = backend === 'qemu' ? ' (the differential suite compares with the real kernel, so it needs the VM)' : ''
        throw new Error(`cannot start the ${backend} backend: ${(error as Error).message}${hint}`, { cause: error })
      })
      const b = await started
      if (used) await b.reset()
      used = true
      return runScript(b, parseScript(readFileSync(join(scriptsDir, `${name}.sh`), 'utf8')), root)
    },
    async close() {
      if (started) await (await started.catch(() => undefined))?.close()
    },
  }
}

const vm = shared('qemu')
const sim = shared('sim')
const liveRuns = new Map<string, Promise<ScriptRun>>()
// One live run per script, shared by its two tests.
const live = (name: string) => liveRuns.get(name) ?? liveRuns.set(name, vm.run(name)).get(name)!
const lineOf = (name: string) => {
  const commands = parseScript(readFileSync(join(scriptsDir, `${name}.sh`), 'utf8'))
  return (i: number) => commands[i]?.line
}

afterAll(async () => {
  await Promise.all([vm.close(), sim.close()])
})

describe('fixture scripts: capture = live VM = simulator', () => {
  test('there are fixture scripts, each with a capture', () => {
    expect(names.length).toBeGreaterThan(0)
    const missing = names.filter((n) => !existsSync(join(capturesDir, `${n}.json`)))
    expect(missing, `scripts without a capture: run node scripts/capture.mjs ${missing.join(' ')}`).toEqual([])
  })

  for (const name of names) {
    test(`${name}: the live VM prints what its capture says`, async () => {
      const run = await live(name)
      const capture = readCapture(join(capturesDir, `${name}.json`), root)
      if (capture.release !== run.release) {
        expect.fail(
          `fixtures/captures/${name}.json was captured on kernel ${capture.release} but the VM runs ${run.release}: ` +
            `the texts cannot be compared across releases; recapture on this kernel (npm run build && node scripts/capture.mjs) or boot ${capture.release}`,
        )
      }
      const comparison = compareRuns({ release: capture.release, steps: capture.commands }, run)
      if (comparison.differences.length > 0) {
        const report = formatComparison(comparison, { name: `fixtures/scripts/${name}.sh`, labels: ['capture', 'VM (live)'], lineOf: lineOf(name) })
        expect.fail(`capture is stale: rerun node scripts/capture.mjs ${name}\n${report}`)
      }
    })

    test(`${name}: the simulator prints what the live VM prints`, async () => {
      const [expected, actual] = [await live(name), await sim.run(name)]
      const comparison = compareRuns(actual, expected)
      if (comparison.differences.length > 0) {
        expect.fail(
          `the simulator differs from the real kernel:\n${formatComparison(comparison, { name: `fixtures/scripts/${name}.sh`, lineOf: lineOf(name) })}`,
        )
      }
      expect(comparison.commands).toBe(expected.steps.length)
    })
  }
})

describe('kmodspec diff, end to end (in-process)', () => {
  let out = ''
  const captureStdout = () => {
    out = ''
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true))
  }
  afterEach(() => {
    vi.restoreAllMocks()
  })

  test('a seed script prints "same" and exits 0', async () => {
    captureStdout()
    const code = await main(['fixtures/scripts/seed-stacking.sh'])
    vi.restoreAllMocks()
    expect(out).toBe('fixtures/scripts/seed-stacking.sh: same (15 commands)\n')
    expect(code).toBe(0)
  })

  test('a script the simulator cannot match exits 1 and shows the difference', async () => {
    // The VM's kernel command line is the qemu backend's own choice; the simulated kernel shows only the user's.
    const tmp = await tmpDir({ unsafeCleanup: true })
    try {
      const file = join(tmp.path, 'cmdline.sh')
      await writeFile(file, 'cat /proc/cmdline\n')
      captureStdout()
      const code = await main([file])
      vi.restoreAllMocks()
      expect(out).toContain('line 1: cat /proc/cmdline\n  stdout\n  !  | console=ttyS0 quiet panic=-1 tsc=reliable\n')
      expect(out).toContain(`${file}: 1 of 1 commands differ\n`)
      expect(code).toBe(1)
    } finally {
      await tmp.cleanup()
    }
  })
})
