// The qemu backend against the real kernel in the VM. Values asserted here were first seen in the
// VM (see fixtures/captures). Missing prerequisites (qemu, a kernel image) fail with one clear line.
import { access, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { BackendError } from '../types.js'
import { createQemuBackend, type QemuBackend } from './index.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
let backend: QemuBackend
const exec = (argv: string[], timeoutMs?: number) => backend.exec(argv, { cwd: root, timeoutMs })
const texts = (r: { dmesg: { text: string }[] }) => r.dmesg.map((d) => d.text)

async function kernelError(p: Promise<unknown>): Promise<BackendError> {
  const error = await p.then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(BackendError)
  return error as BackendError
}

beforeAll(async () => {
  backend = await createQemuBackend({ timeout: 30_000 })
}, 300_000)

afterAll(async () => {
  await backend?.close()
})

beforeEach(async () => {
  await backend.reset()
}, 120_000)

describe('qemu backend', () => {
  it('runs insmod, lsmod and rmmod on the real kernel, each step owning its log records', async () => {
    const api = await exec(['insmod', 'fixtures/hello/hello_api.ko'])
    expect(api).toMatchObject({ exitCode: 0, stdout: '', stderr: '' })
    expect(texts(api)).toEqual([
      'hello_api: loading out-of-tree module taints kernel.',
      'hello_api: module verification failed: signature and/or required key missing - tainting kernel',
      '[hello_api] Hello, World!',
    ])
    expect(api.dmesg.map((d) => d.level)).toEqual([4, 5, 6])
    const feature = await exec(['insmod', 'fixtures/hello/hello_feature.ko'])
    expect(texts(feature)).toEqual(['[hello_feature] Hello, World!'])
    expect(feature.dmesg[0].seq).toBeGreaterThan(api.dmesg[2].seq)
    const lsmod = await exec(['lsmod'])
    expect(lsmod).toMatchObject({
      exitCode: 0,
      stdout: 'Module                  Size  Used by\nhello_feature          16384  0\nhello_api              16384  1 hello_feature\n',
      dmesg: [],
    })
    const busy = await exec(['rmmod', 'hello_api'])
    expect(busy).toMatchObject({ exitCode: 1, stdout: '', stderr: 'rmmod: ERROR: Module hello_api is in use by: hello_feature\n', dmesg: [] })
    expect(texts(await exec(['rmmod', 'hello_feature']))).toEqual(['[hello_api] this is a test message.', '[hello_feature] Bye Bye, World!'])
    expect(texts(await exec(['rmmod', 'hello_api']))).toEqual(['[hello_api] Bye bye, World!'])
    expect((await exec(['lsmod'])).stdout).toBe('Module                  Size  Used by\n')
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

  it('reset() brings back an untainted kernel with nothing loaded and an empty log', async () => {
    await exec(['insmod', 'fixtures/hello/hello_api.ko'])
    expect((await exec(['cat', '/proc/sys/kernel/tainted'])).stdout).toBe('12288\n')
    await backend.reset()
    expect((await exec(['cat', '/proc/sys/kernel/tainted'])).stdout).toBe('0\n')
    expect((await exec(['lsmod'])).stdout).toBe('Module                  Size  Used by\n')
    expect((await exec(['dmesg'])).stdout).toBe('')
    // The taint messages are printed once per boot: a fresh kernel prints them again.
    expect(texts(await exec(['insmod', 'fixtures/hello/hello_api.ko']))[0]).toBe('hello_api: loading out-of-tree module taints kernel.')
  }, 120_000)

  it('fails a step that oopses with the kernel report; the next test gets a healthy kernel', async () => {
    const e = await kernelError(exec(['insmod', 'fixtures/crash/crash_oops.ko']))
    expect(e.kind).toBe('oops')
    expect(e.message).toContain("during 'insmod fixtures/crash/crash_oops.ko'")
    expect(e.report).toMatch(/^BUG: kernel NULL pointer dereference/)
    expect(e.report).toMatch(/Oops: 0002/)
    await backend.reset()
    expect(await exec(['cat', '/proc/sys/kernel/tainted'])).toMatchObject({ exitCode: 0, stdout: '0\n' })
  }, 120_000)

  it('fails a step that WARNs with the cut-here report', async () => {
    const e = await kernelError(exec(['insmod', 'fixtures/crash/crash_warn.ko']))
    expect(e.kind).toBe('warning')
    expect(e.report.split('\n').slice(0, 2)).toEqual([
      '------------[ cut here ]------------',
      expect.stringMatching(/^WARNING: CPU: 0 PID: \d+ at crash_warn\.c:\d+ crash_warn_init/),
    ])
  }, 120_000)

  it('fails a step that panics with the console report, and reset() recovers', async () => {
    const e = await kernelError(exec(['insmod', 'fixtures/crash/crash_panic.ko']))
    expect(e.kind).toBe('panic')
    expect(e.report).toMatch(/Kernel panic - not syncing: kmodspec: crash_panic fixture/)
    expect(backend.qemuPid).toBeUndefined()
    expect((await kernelError(exec(['lsmod']))).kind).toBe('died')
    await backend.reset()
    expect((await exec(['lsmod'])).exitCode).toBe(0)
  }, 120_000)

  it('fails a step that hangs at its timeout, with what the console showed', async () => {
    const e = await kernelError(exec(['insmod', 'fixtures/crash/crash_hang.ko'], 2_000))
    expect(e.kind).toBe('timeout')
    expect(e.message).toContain('did not finish within 2000 ms')
    expect(e.report).toContain('[crash_hang] sleeping forever')
    await backend.reset()
    expect((await exec(['lsmod'])).stdout).toBe('Module                  Size  Used by\n')
  }, 120_000)

  it("reports a QEMU killed from outside as 'died'", async () => {
    const pid = backend.qemuPid
    expect(pid).toBeTypeOf('number')
    process.kill(pid!, 'SIGKILL')
    const e = await kernelError(exec(['lsmod']))
    expect(e.kind).toBe('died')
    await backend.reset()
    expect((await exec(['lsmod'])).exitCode).toBe(0)
  }, 120_000)

  it('rejects commands outside the script language', async () => {
    const e = await kernelError(exec(['sh', '-c', 'true']))
    expect(e.kind).toBe('usage')
    expect(e.message).toMatch(/unknown command 'sh'/)
  })
})

describe('qemu backend lifetime', () => {
  it('leaves no QEMU process and no temp dir after close()', async () => {
    const own = await createQemuBackend({})
    const pid = own.qemuPid
    const dir = own.tempDir
    expect(pid).toBeTypeOf('number')
    expect((await own.exec(['lsmod'])).exitCode).toBe(0)
    await own.close()
    await own.close() // idempotent
    // Signal 0 only asks whether the process exists (pgrep -x cannot match names over 15 characters).
    expect(() => process.kill(pid!, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }))
    await expect(access(dir!)).rejects.toThrow()
  }, 120_000)
})
