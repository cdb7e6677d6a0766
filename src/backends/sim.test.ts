// The sim backend: the conformance suite (the same checks every backend runs), and what only the simulator has.
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { dir as tmpDir } from 'tmp-promise'
import { beforeAll, expect, test } from 'vitest'
import { backendConformance, projectRoot as root } from './conformance.js'
import { createSimBackend } from './sim.js'
import type { Backend } from './types.js'

let k: Backend
beforeAll(async () => {
  k = await createSimBackend()
})

test("a host sysroot receives depmod's files; a missing one is refused with what to do", async () => {
  const t = await tmpDir({ unsafeCleanup: true })
  try {
    const s = await createSimBackend({ sysroot: t.path })
    mkdirSync(join(t.path, 'lib/modules', s.release, 'extra'), { recursive: true })
    await s.exec(['cp', 'fixtures/hello/hello_api.ko', 'fixtures/hello/hello_feature.ko', `/lib/modules/${s.release}/extra`], { cwd: root })
    expect((await s.exec(['depmod', '-a'], { cwd: root })).exitCode).toBe(0)
    expect(readFileSync(join(t.path, 'lib/modules', s.release, 'modules.dep'), 'utf8')).toContain('extra/hello_feature.ko: extra/hello_api.ko\n')
    await s.close()
  } finally {
    await t.cleanup()
  }
  await expect(createSimBackend({ sysroot: '/nonexistent/sysroot' })).rejects.toThrow(/not a directory/)
  expect(existsSync('/nonexistent/sysroot')).toBe(false)
})

test('lsmod columns, and dmesg -c empties what dmesg shows', async () => {
  await k.reset()
  await k.exec(['insmod', 'fixtures/hello/hello_api.ko'], { cwd: root })
  await k.exec(['insmod', 'fixtures/hello/hello_feature.ko'], { cwd: root })
  expect((await k.exec(['lsmod'])).stdout.split('\n')).toContainEqual(expect.stringMatching(/^hello_api {10} {0,8}\d+ {2}1 hello_feature$/))
  expect((await k.exec(['dmesg', '-c'])).stdout).toMatch(/^\[ *\d+\.\d{6}\] /m)
  expect((await k.exec(['dmesg'])).stdout).toBe('')
})

test("timeoutMs is counted on the simulated kernel's clock: sleeps past it fail the step, a default bounds every step", async () => {
  await k.reset()
  // crash_hang sleeps in msleep(1000) forever: without timeoutMs the default 60 s of its clock stops it.
  const e = await k.exec(['insmod', 'fixtures/crash/crash_hang.ko'], { cwd: root }).catch((x: unknown) => x)
  expect(e).toMatchObject({
    kind: 'timeout',
    message: "the command 'insmod fixtures/crash/crash_hang.ko' did not finish within 60000 ms (the kernel was stopped; reset() brings a fresh kernel)",
  })
  // the soft-lockup report the budget ends with came long after the deadline: not what the VM's console shows
  expect((e as { report: string }).report).not.toContain('soft lockup')
  await k.reset()
  await expect(k.exec(['lsmod'], { timeoutMs: 0 })).rejects.toMatchObject({
    kind: 'usage',
    message: 'timeoutMs must be a positive number of milliseconds, got 0',
  })
  await expect(createSimBackend({ timeout: -1 })).rejects.toMatchObject({ kind: 'usage' })
  // a step that finishes within its time is untouched
  expect((await k.exec(['insmod', 'fixtures/hello/hello_api.ko'], { cwd: root, timeoutMs: 1 })).exitCode).toBe(0)
})

backendConformance('sim', {
  backend: () => k,
  can: { load: true, pristine: true, crash: true },
  refused: [{ sudo: true }, { kernel: '/boot/vmlinuz' }, { target: 'root@vm' }, { colour: 'red' }],
})
