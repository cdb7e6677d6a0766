// The ssh backend against our own QEMU VM (the qemu backend's ssh variant: e1000 + dropbear, reachable
// on 127.0.0.1 only): the conformance suite (the checks every backend runs; the VM is reset between
// tests, ssh's own reset() is not pristine), and ssh results compared with what the agent channel of
// the same VM gives for the same commands; in that VM e1000 is loaded (the NIC driver), so lsmod is compared on the
// lines about our modules only.
import { access, copyFile, readFile, writeFile } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { kernel } from 'kmodspec'
import { dir as tmpDir, type DirectoryResult } from 'tmp-promise'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { backendConformance } from './conformance.js'
import { createBackend } from './index.js'
import { createQemuBackend, type QemuBackend } from './qemu/index.js'
import type { RemoteBackend } from './remote/backend.js'
import { createSshBackend } from './ssh.js'
import { BackendError, type ExecResult } from './types.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
let keys: DirectoryResult
let port: number
let vm: QemuBackend
let ssh: RemoteBackend
let qemuPid: number | undefined
const sshOptions = ['StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null']

/** A port nobody listens on now: the kernel picks it for a moment, we give it to QEMU. */
async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address() as net.AddressInfo
  await new Promise((resolve) => s.close(resolve))
  return port
}

/** What a step showed, with lsmod's e1000 line (the VM's NIC driver) left out. */
function shown(r: ExecResult) {
  const ours = (text: string) =>
    text
      .split('\n')
      .filter((l) => !/^e1000\s/.test(l))
      .join('\n')
  return { argv: r.argv, exitCode: r.exitCode, stdout: ours(r.stdout), stderr: r.stderr, dmesg: r.dmesg.map((d) => `<${d.level}>${d.text}`) }
}

/** Runs the steps on a fresh kernel through the agent, then on a fresh kernel through ssh. */
async function bothWays(steps: string[][], cwd = root): Promise<{ agent: ExecResult[]; ssh: ExecResult[] }> {
  const agent: ExecResult[] = []
  const over: ExecResult[] = []
  await vm.reset()
  await ssh.reset()
  for (const argv of steps) agent.push(await vm.exec(argv, { cwd }))
  await vm.reset()
  await ssh.reset()
  for (const argv of steps) over.push(await ssh.exec(argv, { cwd }))
  return { agent, ssh: over }
}

beforeAll(async () => {
  keys = await tmpDir({ prefix: 'kmodspec-ssh-test-', unsafeCleanup: true })
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'kmodspec-test', '-f', path.join(keys.path, 'id')])
  port = await freePort()
  vm = await createQemuBackend({ timeout: 30_000, network: { sshPort: port, authorizedKey: await readFile(path.join(keys.path, 'id.pub'), 'utf8') } })
  qemuPid = vm.qemuPid
  ssh = await createSshBackend({ target: 'root@127.0.0.1', port, identity: path.join(keys.path, 'id'), sshOptions, timeout: 30_000 })
}, 300_000)

afterAll(async () => {
  await ssh?.close()
  await vm?.close()
  await keys?.cleanup()
  if (qemuPid) expect(() => process.kill(qemuPid!, 0)).toThrow()
  if (keys) await expect(access(keys.path)).rejects.toThrow()
})

describe('ssh backend on the ssh test VM', () => {
  beforeEach(async () => {
    await vm.reset()
    await ssh.reset()
  }, 120_000)

  it('gives the unknown-symbol failure and the module parameter writes exactly as the agent channel does', async () => {
    const p = '/sys/module/params/parameters'
    const both = await bothWays([
      ['insmod', 'fixtures/hello/hello_feature.ko'],
      ['insmod', 'fixtures/errors/params.ko', 'count=3', 'name=kmodspec', 'verbose=1'],
      ['echo', 'tester', '>', `${p}/name`],
      ['cat', `${p}/name`],
      ['echo', 'N', '>', `${p}/verbose`],
      ['cat', `${p}/verbose`],
      ['echo', '5', '>', `${p}/count`],
      ['echo', 'maybe', '>', `${p}/verbose`],
      ['cat', `${p}/count`, `${p}/verbose`],
      ['rmmod', 'params'],
    ])
    expect(both.ssh.map(shown)).toEqual(both.agent.map(shown))
    expect(both.ssh[0]).toMatchObject({
      exitCode: 1,
      stderr: 'insmod: ERROR: could not insert module fixtures/hello/hello_feature.ko: Unknown symbol in module\n',
    })
    expect(both.ssh[0]!.dmesg.map((d) => d.text)).toContain('hello_feature: Unknown symbol api_test (err -2)')
    // A charp keeps the newline echo wrote (fixtures/captures/params.json shows the same).
    expect(both.ssh[3]!.stdout).toBe('tester\n\n')
    expect(both.ssh[6]).toMatchObject({ exitCode: 1, stderr: "echo: can't create /sys/module/params/parameters/count: Permission denied\n" })
    expect(both.ssh[7]).toMatchObject({ exitCode: 1, stderr: 'echo: write error: Invalid argument\n' })
  }, 120_000)

  it('uploads named files to the same absolute path and runs in the same cwd, quoting every word', async () => {
    const d = await tmpDir({ prefix: 'kmodspec-ssh-up-', unsafeCleanup: true })
    try {
      const odd = "it's $(touch pwned) `x`.txt"
      await copyFile(path.join(root, 'fixtures/hello/hello_api.ko'), path.join(d.path, 'renamed.ko'))
      await writeFile(path.join(d.path, odd), 'from the host\n')
      const at = (argv: string[]) => ssh.exec(argv, { cwd: d.path })
      expect((await at(['modinfo', '-F', 'filename', 'renamed.ko'])).stdout).toBe(`${d.path}/renamed.ko\n`)
      expect(await at(['cat', odd])).toMatchObject({ exitCode: 0, stdout: 'from the host\n', stderr: '' })
      expect(await at(['insmod', 'renamed.ko'])).toMatchObject({ exitCode: 0 })
      expect(await at(['insmod', 'renamed.ko'])).toMatchObject({ exitCode: 1, stderr: 'insmod: ERROR: could not insert module renamed.ko: File exists\n' })
      expect(await at(['echo', "a'b", '$HOME', '>', 'out.txt'])).toMatchObject({ exitCode: 0, stdout: '', stderr: '' })
      expect(await at(['echo', 'more', '>>', 'out.txt'])).toMatchObject({ exitCode: 0 })
      expect((await at(['cat', 'out.txt'])).stdout).toBe("a'b $HOME\nmore\n")
      expect((await at(['ls'])).stdout.split('\n')).not.toContain('pwned')
      await expect(access(path.join(d.path, 'out.txt'))).rejects.toThrow()
      await writeFile(path.join(d.path, odd), 'changed\n')
      expect((await at(['cat', odd])).stdout).toBe('changed\n')
      // reset() unloads what the run loaded (renamed.ko is hello_api).
      expect(ssh.loadedByRun).toEqual(['hello_api'])
      await ssh.reset()
      expect((await vm.exec(['lsmod'])).stdout).not.toMatch(/^hello_api /m)
    } finally {
      await d.cleanup()
    }
  }, 120_000)

  it('runs the seed spec chains unchanged with backend: the ssh backend', async () => {
    await kernel({ backend: ssh, modules: 'fixtures/hello' })
      .insmod('hello_api')
      .expectDmesg('[hello_api] Hello, World!')
      .insmod('hello_feature')
      .expectDmesg('[hello_feature] Hello, World!', { exact: true })
      .expectLoaded('hello_api', { refcount: 1, holders: ['hello_feature'] })
      .rmmod('hello_feature')
      .expectDmesg(['[hello_api] this is a test message.', '[hello_feature] Bye Bye, World!'], { exact: true })
      .rmmod('hello_api')
      .expectDmesg('[hello_api] Bye bye, World!', { exact: true })
      .expectNotLoaded('hello_feature')
      .expectNotLoaded('hello_api')
    const run = await kernel({ backend: ssh, modules: 'fixtures/hello' })
      .insmod('hello_feature')
      .expectError('unknown-symbol', { symbol: 'api_test' })
      .expectDmesg('hello_feature: Unknown symbol api_test (err -2)')
      .expectOutput('insmod: ERROR: could not insert module fixtures/hello/hello_feature.ko: Unknown symbol in module')
      .expectNotLoaded('hello_feature')
    expect(run.actions[0]!.stderr).toBe('insmod: ERROR: could not insert module fixtures/hello/hello_feature.ko: Unknown symbol in module\n')
    await kernel({ backend: ssh, modules: 'fixtures/hello' })
      .expectModinfo('hello_feature', { depends: 'hello_api' })
      .run(['modinfo', '--field', 'depends', 'fixtures/hello/hello_feature.ko'])
      .expectOutput(/^hello_api$/m)
  }, 120_000)

  it('says what is wrong with a target it cannot reach, and is what createBackend gives for ssh', async () => {
    const closed = await freePort()
    const error = await createSshBackend({ target: 'root@127.0.0.1', port: closed, identity: path.join(keys.path, 'id'), sshOptions }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BackendError)
    expect(error).toMatchObject({ kind: 'setup' })
    expect((error as Error).message).toMatch(/^cannot reach root@127\.0\.0\.1 \(port \d+\) with ssh: .*Connection refused/)
    await expect(createSshBackend({ target: '' })).rejects.toThrow(/needs a target: pass \{ target: "user@host" \} or set KMODSPEC_SSH_TARGET/)
    const saved = process.env.KMODSPEC_SSH_TARGET
    // OpenSSH takes an ssh:// URI with the port in it, so the environment alone can name a VM like ours.
    process.env.KMODSPEC_SSH_TARGET = `ssh://root@127.0.0.1:${port}`
    const viaEnv = await createBackend({ backend: 'ssh', identity: path.join(keys.path, 'id'), sshOptions }).finally(() => {
      if (saved === undefined) delete process.env.KMODSPEC_SSH_TARGET
      else process.env.KMODSPEC_SSH_TARGET = saved
    })
    try {
      expect(viaEnv.name).toBe('ssh')
      expect(viaEnv.release).toBe(vm.release)
      await expect(viaEnv.exec(['sh', '-c', 'id'])).rejects.toThrow(/unknown command 'sh'/)
    } finally {
      await viaEnv.close()
    }
    await expect(viaEnv.exec(['lsmod'])).rejects.toMatchObject({ kind: 'usage' })
  }, 120_000)

  it("reports a target that went away mid-run as 'died', and works again once the target is back", async () => {
    expect((await ssh.exec(['lsmod'])).exitCode).toBe(0)
    process.kill(vm.qemuPid!, 'SIGKILL')
    const error = await ssh.exec(['lsmod']).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BackendError)
    expect(error).toMatchObject({ kind: 'died' })
    expect((error as Error).message).toMatch(/^the ssh connection to root@127\.0\.0\.1 \(port \d+\) failed during 'dd if=\/dev\/kmsg/)
    await vm.reset()
    await ssh.reset()
    expect((await ssh.exec(['lsmod'])).exitCode).toBe(0)
  }, 120_000)
})

backendConformance('ssh', {
  backend: () => ssh,
  // a fresh VM for each test; ssh's own reset() only unloads what the run loaded
  reset: async () => {
    await vm.reset()
    await ssh.reset()
  },
  can: { load: true, pristine: false, crash: false },
  refused: [{ sysroot: '/tmp' }, { cmdline: 'quiet' }, { allowModuleLoad: true }],
  testTimeout: 120_000,
})
