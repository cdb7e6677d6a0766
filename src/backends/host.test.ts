// The host backend on this machine. SAFETY: read-only commands only (plus lines written to /dev/kmsg
// and files in a temp dir): this machine's kernel is not the one our modules are built for.
import { appendFile, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { dir as tmpDir } from 'tmp-promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backendConformance } from './conformance.js'
import { createHostBackend, kernelChange } from './host.js'
import type { RemoteBackend } from './remote/backend.js'
import { BackendError } from './types.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
let host: RemoteBackend
const exec = (argv: string[], cwd = root) => host.exec(argv, { cwd })

beforeAll(async () => {
  host = await createHostBackend()
})
afterAll(async () => {
  await host?.close()
})

describe('host backend (read-only on this machine)', () => {
  it("returns the tools' own exit code, stdout and stderr, separately, with the path as given", async () => {
    for (const argv of [
      ['modinfo', '-F', 'vermagic', 'fixtures/hello/hello_api.ko'],
      ['modinfo', 'fixtures/hello/missing.ko'],
      ['lsmod'],
      ['cat', '/proc/sys/kernel/tainted'],
      ['ls', 'fixtures/hello'],
    ]) {
      const direct = await execa(argv[0]!, argv.slice(1), { cwd: root, reject: false, stripFinalNewline: false })
      const r = await exec(argv)
      expect({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr }).toEqual({ exitCode: direct.exitCode, stdout: direct.stdout, stderr: direct.stderr })
      expect(r.argv).toEqual(argv)
    }
    const missing = await exec(['modinfo', 'fixtures/hello/missing.ko'])
    expect(missing).toMatchObject({ exitCode: 1, stdout: '', stderr: 'modinfo: ERROR: Module fixtures/hello/missing.ko not found.\n' })
    expect((await exec(['modinfo', '-F', 'vermagic', 'fixtures/hello/hello_api.ko'])).stdout).toMatch(/^6\.1\.0-56-amd64 SMP/)
  })

  it('gives each step exactly the kernel log records written while it ran', async () => {
    const tag = `kmodspec-host-test-${process.pid}-${Date.now()}`
    // Writing to /dev/kmsg adds a record to the log and changes nothing else in the kernel.
    await appendFile('/dev/kmsg', `${tag} before\n`)
    const step = await exec(['echo', `${tag} during`, '>', '/dev/kmsg'])
    expect(step).toMatchObject({ exitCode: 0, stdout: '', stderr: '' })
    expect(step.dmesg.map((r) => r.text)).toEqual([`${tag} during`])
    expect(step.dmesg[0]).toMatchObject({ facility: 1, level: 4 })
    const next = await exec(['cat', '/proc/sys/kernel/tainted'])
    expect(next.dmesg.filter((r) => r.text.startsWith(tag))).toEqual([])
    const dmesg = await exec(['dmesg'])
    expect(dmesg.stdout).toContain(`${tag} during`)
    expect(dmesg.dmesg).toEqual([])
  })

  it("writes echo TEXT > FILE and >> FILE itself, relative to the cwd, with busybox echo's error texts", async () => {
    const d = await tmpDir({ prefix: 'kmodspec-host-test-', unsafeCleanup: true })
    try {
      expect(await exec(['echo', 'hi', "it's", '>', 'out.txt'], d.path)).toMatchObject({ exitCode: 0, stdout: '', stderr: '' })
      expect(await exec(['echo', 'more', '>>', 'out.txt'], d.path)).toMatchObject({ exitCode: 0 })
      expect(await readFile(path.join(d.path, 'out.txt'), 'utf8')).toBe("hi it's\nmore\n")
      expect(await exec(['echo', 'again', '>', 'out.txt'], d.path)).toMatchObject({ exitCode: 0 })
      expect((await exec(['cat', 'out.txt'], d.path)).stdout).toBe('again\n')
      expect(await exec(['echo', 'x', '>', 'no/such/file'], d.path)).toMatchObject({
        exitCode: 1,
        stdout: '',
        stderr: "echo: can't create no/such/file: No such file or directory\n",
      })
    } finally {
      await d.cleanup()
    }
  })

  it('refuses insmod, rmmod, modprobe and writes under /proc and /sys unless allowModuleLoad is set', async () => {
    const error = await exec(['insmod', 'fixtures/hello/hello_api.ko']).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BackendError)
    expect(error).toMatchObject({ kind: 'usage' })
    expect((error as Error).message).toBe(
      "refused 'insmod fixtures/hello/hello_api.ko': insmod loads a module into the running kernel of this machine. Host loads modules into the running kernel: opt in with allowModuleLoad: true, or use the qemu backend",
    )
    await expect(exec(['rmmod', 'hello_api'])).rejects.toMatchObject({ kind: 'usage' })
    await expect(exec(['modprobe', 'e1000'])).rejects.toMatchObject({ kind: 'usage' })
    await expect(exec(['echo', '1', '>', '../../proc/sys/kernel/sysrq'], '/tmp/not-created')).rejects.toThrow(
      /writing \/proc\/sys\/kernel\/sysrq changes the running kernel/,
    )
    // The guard decides on the parsed command alone (checked here without running anything).
    const p = (command: string[], redirect: '' | '>' = '', file = '') => kernelChange({ command, redirect, file }, '/')
    expect(p(['modprobe', '--show-depends', 'e1000'])).toBeUndefined()
    expect(p(['modinfo', 'x.ko'])).toBeUndefined()
    expect(p(['echo', 'x'], '>', '/tmp/f')).toBeUndefined()
    expect(p(['echo', 'x'], '>', 'sys/module/x')).toMatch(/\/sys\/module\/x/)
    // With the opt-in the guard lets the command through (shown with a read-only modprobe form of it).
    const allowed = await createHostBackend({ allowModuleLoad: true })
    try {
      const r = await allowed.exec(['modprobe', '-n', 'no_such_module_kmodspec'], { cwd: root })
      expect(r.exitCode).not.toBe(0)
    } finally {
      await allowed.close()
    }
  })

  it('names a release that is not the running one, and a cwd that does not exist, as usage errors', async () => {
    await expect(createHostBackend({ release: '6.1.0-56-amd64-not' })).rejects.toThrow(/the host runs kernel .* not the release 6.1.0-56-amd64-not/)
    // called directly too, an option of another backend is refused rather than dropped
    await expect(createHostBackend({ cmdline: 'quiet' })).rejects.toThrow(
      "the host backend does not take the option 'cmdline' (host runs a kernel kmodspec does not boot, with the command line it booted with): drop it",
    )
    await expect(exec(['ls'], '/nonexistent-kmodspec-dir')).rejects.toThrow(
      "the directory /nonexistent-kmodspec-dir to run 'ls' in does not exist on this machine: create it or pass another cwd",
    )
  })
})

backendConformance('host', {
  backend: () => host,
  can: { load: false, pristine: false, crash: false },
  refused: [{ sysroot: '/tmp' }, { cmdline: 'quiet' }, { target: 'root@vm' }, { kernel: '/boot/vmlinuz' }],
})
