// A real-kernel verdict must not depend on the host (issue 7). Each case boots the real kernel
// from an empty state cache, under a different host speed or guest clock, saves the state, restores
// it, and replays a fixture script: the result must equal the capture made on another machine, and
// the kernel must log nothing on its own in any step (a settled state). Needs the VM: never skipped.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa, type ResultPromise } from 'execa'
import { afterEach, describe, expect, it } from 'vitest'
import { compareRuns, formatComparison, runScript } from '../../cli/diff.js'
import { parseScript } from '../../cli/script.js'
import { readCapture } from '../captures.js'
import type { Backend, ExecResult } from '../types.js'
import { createQemuBackend, type QemuBackendOptions } from './index.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const script = 'seed-hello-insmod'

let cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

/** Busy loops on every core for as long as the test runs: a slow, loaded host. */
function loadEveryCore(): void {
  const hogs: ResultPromise[] = []
  for (let i = 0; i < os.availableParallelism(); i++) hogs.push(execa(process.execPath, ['-e', 'for (;;) {}'], { reject: false, cleanup: true }))
  cleanups.push(async () => {
    for (const h of hogs) h.kill('SIGKILL')
    await Promise.all(hogs)
  })
}

/**
 * Boots into an empty state directory (so this boot settles and saves), restores the saved state,
 * replays the script; returns the comparison with the capture and every record the kernel logged on its own.
 */
async function replayFromColdBoot(options: QemuBackendOptions): Promise<{ differences: string; unrelated: string[]; pid: number | undefined }> {
  const states = await mkdtemp(path.join(os.tmpdir(), 'kmodspec-states-'))
  cleanups.push(() => rm(states, { recursive: true, force: true }))
  const backend = await createQemuBackend({ ...options, stateCache: states })
  cleanups.push(() => backend.close())
  // The test itself runs from the saved state, as every test after the first does.
  await backend.reset()
  const unrelated: string[] = []
  const watching: Backend = {
    ...backend,
    name: backend.name,
    release: backend.release,
    async exec(argv, o): Promise<ExecResult> {
      const r = await backend.exec(argv, o)
      unrelated.push(...(r.unrelated ?? []).map((u) => `${argv.join(' ')}: ${u.text}`))
      return r
    },
  }
  const commands = parseScript(await readFile(path.join(root, 'fixtures/scripts', `${script}.sh`), 'utf8'))
  const live = await runScript(watching, commands, root)
  const capture = readCapture(path.join(root, 'fixtures/captures', `${script}.json`), root)
  const comparison = compareRuns({ release: capture.release, steps: capture.commands }, live)
  const pid = backend.qemuPid
  await backend.close()
  return { differences: comparison.differences.length ? formatComparison(comparison, { name: `${script}.sh`, labels: ['capture', 'VM'] }) : '', unrelated, pid }
}

function stillRunning(pid: number | undefined): boolean {
  if (pid === undefined) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('the real kernel gives the capture on any host', () => {
  it('on an idle host', async () => {
    const r = await replayFromColdBoot({})
    expect(r.differences).toBe('')
    expect(r.unrelated).toEqual([])
    expect(stillRunning(r.pid)).toBe(false)
  }, 300_000)

  it('with every core of the host busy', async () => {
    loadEveryCore()
    const r = await replayFromColdBoot({})
    expect(r.differences).toBe('')
    expect(r.unrelated).toEqual([])
  }, 300_000)

  it("with the guest clock run off the instruction count (a host infinitely fast for the guest's timers)", async () => {
    // shift=0: one nanosecond of guest time per instruction; sleep=off: idle time passes at once.
    // The kernel then reaches userspace long before its delayed TSC refinement, as on the fastest host.
    const r = await replayFromColdBoot({ accel: 'tcg', qemuArgs: ['-icount', 'shift=0,sleep=off'] })
    expect(r.differences).toBe('')
    expect(r.unrelated).toEqual([])
  }, 300_000)
})
