// The qemu backend against the real kernel in the VM: the conformance suite (the checks every backend
// runs, on this file's one VM, reset between tests) and what only the VM has. Values asserted here were
// first seen in the VM (see fixtures/captures). Missing prerequisites (qemu, a kernel image) fail with one clear line.
import { access, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { backendConformance, rejection } from '../conformance.js'
import type { Backend } from '../types.js'
import { createQemuBackend, type QemuBackend } from './index.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
let backend: QemuBackend
const exec = (argv: string[]) => backend.exec(argv, { cwd: root })
/** The QEMU process and temp dir of the VM the conformance suite closed last. */
let closed: { pid: number | undefined; dir: string | undefined } | undefined

beforeAll(async () => {
  backend = await createQemuBackend({ timeout: 30_000 })
}, 300_000)

afterAll(async () => {
  await backend?.close()
})

describe('qemu backend', () => {
  beforeEach(async () => {
    await backend.reset()
  }, 120_000)

  it('copies host files to the same path and runs in the same cwd, so tools print the path given', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kmodspec-qemu-test-'))
    try {
      await copyFile(path.join(root, 'fixtures/hello/hello_api.ko'), path.join(dir, 'renamed.ko'))
      await writeFile(path.join(dir, 'note.txt'), 'from the host\n')
      const at = (argv: string[]) => backend.exec(argv, { cwd: dir })
      expect((await at(['modinfo', '-F', 'filename', 'renamed.ko'])).stdout).toBe(`${dir}/renamed.ko\n`)
      expect(await at(['cat', 'note.txt'])).toMatchObject({ exitCode: 0, stdout: 'from the host\n' })
      expect((await at(['insmod', 'renamed.ko'])).exitCode).toBe(0)
      expect((await at(['insmod', 'renamed.ko'])).stderr).toBe('insmod: ERROR: could not insert module renamed.ko: File exists\n')
      // echo with a redirection is done by the agent itself, and the file stays in the VM.
      expect(await at(['echo', 'hi', 'there', '>', 'out.txt'])).toMatchObject({ exitCode: 0, stdout: '', stderr: '' })
      expect(await at(['echo', 'more', '>>', 'out.txt'])).toMatchObject({ exitCode: 0 })
      expect((await at(['cat', 'out.txt'])).stdout).toBe('hi there\nmore\n')
      await expect(access(path.join(dir, 'out.txt'))).rejects.toThrow()
      // A changed host file reaches the VM again.
      await writeFile(path.join(dir, 'note.txt'), 'changed\n')
      expect((await at(['cat', 'note.txt'])).stdout).toBe('changed\n')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 120_000)

  it("reports a QEMU killed from outside as 'died'", async () => {
    const pid = backend.qemuPid
    expect(pid).toBeTypeOf('number')
    process.kill(pid!, 'SIGKILL')
    const e = await rejection(exec(['lsmod']))
    expect(e.kind).toBe('died')
    await backend.reset()
    expect((await exec(['lsmod'])).exitCode).toBe(0)
  }, 120_000)
})

backendConformance('qemu', {
  backend: (): Backend => ({
    name: 'qemu',
    get release() {
      return backend.release
    },
    exec: (argv, options) => backend.exec(argv, options),
    reset: () => backend.reset(),
    async close() {
      closed ??= { pid: backend.qemuPid, dir: backend.tempDir }
      await backend.close()
    },
  }),
  can: { load: true, pristine: true, crash: true },
  refused: [{ sysroot: '/tmp' }, { sudo: true }, { target: 'root@vm' }],
  testTimeout: 120_000,
})

it('leaves no QEMU process and no temp dir after close()', async () => {
  expect(closed?.pid).toBeTypeOf('number')
  // Signal 0 only asks whether the process exists (pgrep -x cannot match names over 15 characters).
  expect(() => process.kill(closed!.pid!, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }))
  await expect(access(closed!.dir!)).rejects.toThrow()
})
