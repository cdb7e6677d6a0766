/**
 * The backend conformance suite: what every backend must do the same, written once and run by
 * every backend's test file (sim, qemu, host, ssh) with the capabilities that backend has.
 * Every kernel and kmod text asserted here is what the qemu backend printed on the pinned
 * kernel (fixtures/captures, and the qemu run of this suite); none is written from memory.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { classifyFailure, ERROR_KINDS, type ErrorKind } from '../observe/index.js'
import { createBackend } from './index.js'
import { BackendError, type Backend, type BackendName, type ExecResult } from './types.js'

/** What a backend can do: the suite runs the checks that apply. */
export interface Capabilities {
  /** insmod, rmmod and modprobe change its kernel (false: they are refused, as on host by default). */
  load: boolean
  /** reset() brings a pristine kernel: nothing loaded, untainted, empty log, /lib/modules as at start. */
  pristine: boolean
  /** Modules that oops, WARN, panic or hang may run (the kernel behind it is disposable). */
  crash: boolean
}

export interface ConformanceOptions {
  /** The backend under test, opened by the file; the suite's last test closes it. */
  backend: () => Backend
  can: Capabilities
  /** createBackend options this backend must refuse, e.g. `{ sysroot: '/tmp' }` for qemu. */
  refused: Array<Record<string, unknown>>
  /** Brings a fresh kernel before each test. Default: `backend().reset()`. */
  reset?: () => Promise<void>
  /** Milliseconds a test may take (a VM step is slow under TCG). Default 10000. */
  testTimeout?: number
}

/** The project root: fixture paths below are relative to it, as the captures were made. */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

const texts = (r: ExecResult): string[] => r.dmesg.map((d) => d.text)
/** A module's own lines: what a seed's `[name] ...` prints, without the once-per-boot taint lines. */
const own = (r: ExecResult): string[] => texts(r).filter((t) => t.startsWith('['))

/** The error a call rejected with (a test failure when it resolved). */
export async function rejection(p: Promise<unknown>): Promise<BackendError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error, 'the call should have been refused').toBeInstanceOf(BackendError)
  return error as BackendError
}

/** A refusal of the caller's input: kind 'usage', in one line that names what was wrong. */
async function usage(p: Promise<unknown>, says: RegExp): Promise<void> {
  const e = await rejection(p)
  expect(e.kind).toBe('usage')
  expect(e.message).toMatch(says)
  expect(e.message).not.toContain('\n')
}

/** One step of the error-kind walk: the command, and what kmod printed for it on the VM. */
interface KindStep {
  argv: string[]
  kind?: ErrorKind
  stderr?: string
  dmesg?: string
  details?: object
  /** Runs only where loads are allowed (false: read-only commands, run everywhere). */
  loads: boolean
}

const insert = (file: string): string => `insmod: ERROR: could not insert module ${file}: `

/** Every kmod error kind, in an order that builds what the next step needs (one kernel, no reset). */
const kindWalk: KindStep[] = [
  { argv: ['rmmod', 'hello_api'], kind: 'not-loaded', stderr: 'rmmod: ERROR: Module hello_api is not currently loaded\n', loads: true },
  {
    argv: ['insmod', 'fixtures/hello/hello_feature.ko'],
    kind: 'unknown-symbol',
    stderr: `${insert('fixtures/hello/hello_feature.ko')}Unknown symbol in module\n`,
    dmesg: 'hello_feature: Unknown symbol api_test (err -2)',
    details: { symbols: ['api_test'] },
    loads: true,
  },
  { argv: ['insmod', 'fixtures/hello/hello_api.ko'], loads: true },
  { argv: ['insmod', 'fixtures/hello/hello_api.ko'], kind: 'already-loaded', stderr: `${insert('fixtures/hello/hello_api.ko')}File exists\n`, loads: true },
  { argv: ['insmod', 'fixtures/hello/hello_feature.ko'], loads: true },
  {
    argv: ['rmmod', 'hello_api'],
    kind: 'in-use',
    stderr: 'rmmod: ERROR: Module hello_api is in use by: hello_feature\n',
    details: { by: ['hello_feature'] },
    loads: true,
  },
  {
    argv: ['insmod', 'fixtures/errors/crc_mismatch.ko'],
    kind: 'symbol-version',
    stderr: `${insert('fixtures/errors/crc_mismatch.ko')}Invalid parameters\n`,
    dmesg: 'crc_mismatch: disagrees about version of symbol api_test',
    details: { symbols: ['api_test'] },
    loads: true,
  },
  {
    argv: ['insmod', 'fixtures/errors/not_elf.ko'],
    kind: 'invalid-format',
    stderr: `${insert('fixtures/errors/not_elf.ko')}Invalid module format\n`,
    dmesg: 'Invalid ELF header magic: != \x7fELF',
    loads: true,
  },
  {
    argv: ['insmod', 'fixtures/errors/bad_vermagic.ko'],
    kind: 'vermagic',
    stderr: `${insert('fixtures/errors/bad_vermagic.ko')}Invalid module format\n`,
    dmesg: "bad_vermagic: version magic '6.1.0-56-amd64 SMP preempt mod_unl0ad modversions ' should be '6.1.0-56-amd64 SMP preempt mod_unload modversions '",
    loads: true,
  },
  {
    argv: ['insmod', 'fixtures/errors/params.ko', 'count=abc'],
    kind: 'invalid-params',
    stderr: `${insert('fixtures/errors/params.ko')}Invalid parameters\n`,
    dmesg: "params: `abc' invalid for parameter `count'",
    details: { params: ['count'] },
    loads: true,
  },
  {
    argv: ['insmod', 'fixtures/errors/init_fail.ko'],
    kind: 'init-failed',
    stderr: `${insert('fixtures/errors/init_fail.ko')}No such device\n`,
    dmesg: '[init_fail] init fails with -ENODEV',
    details: { errno: -19 },
    loads: true,
  },
  {
    argv: ['rmmod', 'printk'],
    kind: 'builtin',
    loads: true,
    stderr:
      "rmmod: ERROR: ../libkmod/libkmod-module.c:1998 kmod_module_get_holders() could not open '/sys/module/printk/holders': No such file or directory\nrmmod: ERROR: Module unloading is not supported\n",
  },
  { argv: ['modinfo', 'fixtures/hello/missing.ko'], kind: 'not-found', stderr: 'modinfo: ERROR: Module fixtures/hello/missing.ko not found.\n', loads: false },
  // No kmod error line at all: the general kind. (GNU cat on a host words it its own way.)
  { argv: ['cat', '/nonexistent-kmodspec'], kind: 'failed', loads: false },
]

/**
 * Registers the conformance tests for one backend. Call it last in the file: its last test
 * closes the backend (close() semantics), so tests registered after it would find it closed.
 * @example
 * let k: Backend
 * beforeAll(async () => { k = await createSimBackend() })
 * backendConformance('sim', { backend: () => k, can: { load: true, pristine: true, crash: true }, refused: [{ sudo: true }] })
 */
export function backendConformance(name: BackendName, options: ConformanceOptions): void {
  const { can, testTimeout = 10_000 } = options
  const b = (): Backend => options.backend()
  const exec = (argv: string[], cwd = projectRoot, timeoutMs?: number): Promise<ExecResult> => b().exec(argv, { cwd, ...(timeoutMs ? { timeoutMs } : {}) })
  const release = (): string => b().release

  describe(`backend conformance: ${name}`, () => {
    let scratch: string
    beforeAll(async () => {
      scratch = await mkdtemp(path.join(os.tmpdir(), `kmodspec-conformance-${name}-`))
    })
    afterAll(async () => {
      if (scratch) await rm(scratch, { recursive: true, force: true })
    })
    beforeEach(async () => {
      await (options.reset ? options.reset() : b().reset())
    }, testTimeout * 4)

    it('names itself and the release of its kernel', () => {
      expect(b().name).toBe(name)
      expect(release()).toMatch(/^\d+\.\d+\.\d+\S*$/)
    })

    it('refuses options it does not take, in one line naming the option, before starting anything', async () => {
      expect(options.refused.length, 'give at least one option this backend refuses').toBeGreaterThan(0)
      for (const refused of options.refused) {
        const [option] = Object.keys(refused)
        await usage(createBackend({ backend: name, ...refused }), new RegExp(`^the ${name} backend does not take the option '${option}' \\(.+\\): drop it$`))
      }
    })

    it('refuses commands outside the script language and malformed redirections, in one line', async () => {
      await usage(exec(['sh', '-c', 'id']), /unknown command 'sh'/)
      await usage(exec(['echo', 'x', '>']), /a redirection takes exactly one file after '>'/)
      await usage(exec(['echo', 'x', '>', 'a', 'b']), /a redirection takes exactly one file after '>'/)
    })

    it(
      "runs the file commands and echo redirections relative to the cwd, with the tools' error texts",
      async () => {
        const dir = await mkdtemp(path.join(scratch, 'files-'))
        const at = (...argv: string[]) => exec(argv, dir)
        const ok = { exitCode: 0, stdout: '', stderr: '', dmesg: [] }
        expect(await at('mkdir', '-p', 'sub')).toMatchObject(ok)
        expect(await at('echo', 'hi', 'there', '>', 'sub/f')).toMatchObject(ok)
        expect(await at('echo', 'more', '>>', 'sub/f')).toMatchObject(ok)
        expect(await at('cat', 'sub/f')).toMatchObject({ exitCode: 0, stdout: 'hi there\nmore\n', stderr: '' })
        expect(await at('echo', 'again', '>', 'sub/f')).toMatchObject(ok)
        expect((await at('cat', 'sub/f')).stdout).toBe('again\n')
        expect(await at('cp', 'sub/f', 'sub/g')).toMatchObject(ok)
        expect((await at('ls', 'sub')).stdout).toBe('f\ng\n')
        expect(await at('rm', 'sub/g')).toMatchObject(ok)
        expect((await at('ls', 'sub')).stdout).toBe('f\n')
        expect(await at('echo', 'x', '>', 'no/such')).toMatchObject({
          exitCode: 1,
          stdout: '',
          stderr: "echo: can't create no/such: No such file or directory\n",
        })
        // busybox (sim, qemu) and GNU coreutils (a host) word it differently; both name the file and the errno text.
        const missing = await at('cat', 'missing')
        expect(missing).toMatchObject({ exitCode: 1, stdout: '' })
        expect(missing.stderr).toMatch(/^cat: .*missing'?: No such file or directory\n$/)
      },
      testTimeout,
    )

    it.runIf(!can.load)('refuses insmod, rmmod and modprobe, which would change this kernel', async () => {
      await usage(exec(['insmod', 'fixtures/hello/hello_api.ko']), /^refused 'insmod fixtures\/hello\/hello_api.ko': /)
      await usage(exec(['rmmod', 'hello_api']), /^refused 'rmmod hello_api': /)
      await usage(exec(['modprobe', 'hello_api']), /^refused 'modprobe hello_api': /)
    })

    it.runIf(can.load)(
      'seed 1: insmod in dependency order, rmmod in reverse, each step owning its log lines',
      async () => {
        const api = await exec(['insmod', 'fixtures/hello/hello_api.ko'])
        expect(api).toMatchObject({ exitCode: 0, stdout: '', stderr: '' })
        if (can.pristine) {
          expect(texts(api)).toEqual([
            'hello_api: loading out-of-tree module taints kernel.',
            'hello_api: module verification failed: signature and/or required key missing - tainting kernel',
            '[hello_api] Hello, World!',
          ])
          expect(api.dmesg.map((d) => d.level)).toEqual([4, 5, 6])
        } else expect(own(api)).toEqual(['[hello_api] Hello, World!'])
        const feature = await exec(['insmod', 'fixtures/hello/hello_feature.ko'])
        expect(texts(feature)).toEqual(['[hello_feature] Hello, World!'])
        expect(feature.dmesg[0]!.seq).toBeGreaterThan(api.dmesg.at(-1)!.seq)
        const lsmod = await exec(['lsmod'])
        expect(lsmod).toMatchObject({ exitCode: 0, stderr: '', dmesg: [] })
        expect(lsmod.stdout.split('\n')[0]).toBe('Module                  Size  Used by')
        expect(lsmod.stdout).toMatch(/^hello_feature {10}16384 {2}0\nhello_api {14}16384 {2}1 hello_feature$/m)
        expect(await exec(['rmmod', 'hello_api'])).toMatchObject({
          exitCode: 1,
          stdout: '',
          stderr: 'rmmod: ERROR: Module hello_api is in use by: hello_feature\n',
          dmesg: [],
        })
        expect(texts(await exec(['rmmod', 'hello_feature']))).toEqual(['[hello_api] this is a test message.', '[hello_feature] Bye Bye, World!'])
        expect(texts(await exec(['rmmod', 'hello_api']))).toEqual(['[hello_api] Bye bye, World!'])
        expect(await exec(['rmmod', 'hello_api'])).toMatchObject({ exitCode: 1, stderr: 'rmmod: ERROR: Module hello_api is not currently loaded\n' })
        expect((await exec(['lsmod'])).stdout).not.toMatch(/^hello_/m)
      },
      testTimeout,
    )

    it.runIf(can.load)(
      'seed 1: the feature module alone fails with an unknown symbol',
      async () => {
        const r = await exec(['insmod', 'fixtures/hello/hello_feature.ko'])
        expect(r).toMatchObject({
          exitCode: 1,
          stdout: '',
          stderr: 'insmod: ERROR: could not insert module fixtures/hello/hello_feature.ko: Unknown symbol in module\n',
        })
        expect(texts(r)).toContain('hello_feature: Unknown symbol api_test (err -2)')
        expect((await exec(['lsmod'])).stdout).not.toMatch(/^hello_feature /m)
      },
      testTimeout,
    )

    it(
      'seed 1: modinfo --field depends',
      async () => {
        expect(await exec(['modinfo', '--field', 'depends', 'fixtures/hello/hello_feature.ko'])).toMatchObject({
          exitCode: 0,
          stdout: 'hello_api\n',
          stderr: '',
        })
      },
      testTimeout,
    )

    it.runIf(can.load && can.pristine)(
      'seed 1: modprobe finds a module only after install and depmod; modprobe -r removes its dependency too',
      async () => {
        expect(await exec(['modprobe', 'hello_feature'])).toMatchObject({
          exitCode: 1,
          stderr: `modprobe: FATAL: Module hello_feature not found in directory /lib/modules/${release()}\n`,
        })
        expect((await exec(['cp', 'fixtures/hello/hello_api.ko', 'fixtures/hello/hello_feature.ko', `/lib/modules/${release()}/`])).exitCode).toBe(0)
        const at = `/lib/modules/${release()}`
        // kmod's depmod on a directory that holds no modules.order or modules.builtin*: the VM's words.
        const missing = ['modules.order', 'modules.builtin', 'modules.builtin.modinfo'].map(
          (f) => `depmod: WARNING: could not open ${f} at ${at}: No such file or directory\n`,
        )
        expect(await exec(['depmod', '-a'])).toMatchObject({ exitCode: 0, stderr: missing.join('') })
        const probe = await exec(['modprobe', 'hello_feature'])
        expect(probe.exitCode).toBe(0)
        expect(own(probe)).toEqual(['[hello_api] Hello, World!', '[hello_feature] Hello, World!'])
        expect(await exec(['modprobe', '-r', 'hello_feature'])).toMatchObject({ exitCode: 0, stderr: '' })
        // reset() takes the installed files away again
        await b().reset()
        expect((await exec(['ls', `/lib/modules/${release()}`])).stdout.split('\n')).not.toContain('hello_api.ko')
      },
      testTimeout * 2,
    )

    it.runIf(can.load)(
      'seed 2: a stacked module holds its exporter until it is removed',
      async () => {
        expect(own(await exec(['insmod', 'fixtures/stacking/core/core_lkm.ko']))).toEqual(['[core_lkm] loaded: exporting core_greet and core_gpl_greet'])
        expect(texts(await exec(['insmod', 'fixtures/stacking/client/client_lkm.ko']))).toEqual([
          '[client_lkm] loaded: calling core_lkm',
          '[core_lkm] core_greet() called',
          '[core_lkm] core_gpl_greet() called',
        ])
        expect((await exec(['lsmod'])).stdout).toMatch(/^client_lkm {13}16384 {2}0\ncore_lkm {15}16384 {2}1 client_lkm$/m)
        expect(await exec(['rmmod', 'core_lkm'])).toMatchObject({ exitCode: 1, stderr: 'rmmod: ERROR: Module core_lkm is in use by: client_lkm\n' })
        expect((await exec(['cat', '/sys/module/core_lkm/refcnt'])).stdout).toBe('1\n')
        expect((await exec(['ls', '/sys/module/core_lkm/holders'])).stdout).toBe('client_lkm\n')
        expect((await exec(['rmmod', 'client_lkm'])).exitCode).toBe(0)
        expect((await exec(['cat', '/sys/module/core_lkm/refcnt'])).stdout).toBe('0\n')
        expect((await exec(['rmmod', 'core_lkm'])).exitCode).toBe(0)
      },
      testTimeout,
    )

    it(
      `gives every kmod error kind the kernel gives${can.load ? '' : ' (the read-only ones here)'}`,
      async () => {
        const seen = new Set<ErrorKind>()
        for (const step of kindWalk.filter((s) => can.load || !s.loads)) {
          const r = await exec(step.argv)
          const where = step.argv.join(' ')
          if (!step.kind) {
            expect(r.exitCode, where).toBe(0)
            continue
          }
          if (step.stderr) expect(r.stderr, where).toBe(step.stderr)
          if (step.dmesg) expect(texts(r), where).toContainEqual(step.dmesg)
          expect(classifyFailure(r), where).toMatchObject({ kind: step.kind, ...step.details })
          seen.add(step.kind)
        }
        if (can.load && can.pristine) {
          // modules_disabled is one-way until a fresh kernel: only where reset() brings one.
          expect(await exec(['echo', '1', '>', '/proc/sys/kernel/modules_disabled'])).toMatchObject({ exitCode: 0, stderr: '' })
          const r = await exec(['insmod', 'fixtures/errors/proprietary.ko'])
          expect(r).toMatchObject({ exitCode: 1, stderr: `${insert('fixtures/errors/proprietary.ko')}Operation not permitted\n`, dmesg: [] })
          expect(classifyFailure(r)).toMatchObject({ kind: 'not-permitted' })
          seen.add('not-permitted')
          // every kind the DSL names, the one list of them
          expect([...seen].sort()).toEqual([...ERROR_KINDS].sort())
        }
      },
      testTimeout * 2,
    )

    it.runIf(can.crash)(
      'fails a step that oopses or WARNs with the kernel report and kind, the result as its cause',
      async () => {
        const oops = await rejection(exec(['insmod', 'fixtures/crash/crash_oops.ko']))
        expect(oops.kind).toBe('oops')
        expect(oops.message).toContain("during 'insmod fixtures/crash/crash_oops.ko'")
        expect(oops.report).toMatch(/^BUG: kernel NULL pointer dereference, address: 0000000000000000$/m)
        expect(oops.report).toMatch(/^Oops: 0002 /m)
        expect((oops.cause as ExecResult).argv).toEqual(['insmod', 'fixtures/crash/crash_oops.ko'])
        await b().reset()
        const warn = await rejection(exec(['insmod', 'fixtures/crash/crash_warn.ko']))
        expect(warn.kind).toBe('warning')
        expect(warn.report.split('\n').slice(0, 2)).toEqual([
          '------------[ cut here ]------------',
          expect.stringMatching(/^WARNING: CPU: 0 PID: \d+ at crash_warn\.c:\d+ crash_warn_init/),
        ])
      },
      testTimeout * 3,
    )

    it.runIf(can.crash)(
      "fails a step that panics with the report; the kernel is gone ('died') until reset()",
      async () => {
        const panic = await rejection(exec(['insmod', 'fixtures/crash/crash_panic.ko']))
        expect(panic.kind).toBe('panic')
        expect(panic.report).toMatch(/Kernel panic - not syncing: kmodspec: crash_panic fixture/)
        expect((await rejection(exec(['lsmod']))).kind).toBe('died')
        await b().reset()
        expect(await exec(['lsmod'])).toMatchObject({ exitCode: 0, stdout: 'Module                  Size  Used by\n' })
      },
      testTimeout * 3,
    )

    it.runIf(can.crash)(
      "stops a step at its timeoutMs with kind 'timeout' and what the kernel said; 'died' until reset()",
      async () => {
        const hang = await rejection(exec(['insmod', 'fixtures/crash/crash_hang.ko'], projectRoot, 2_000))
        expect(hang.kind).toBe('timeout')
        expect(hang.message).toMatch(
          /^the command 'insmod fixtures\/crash\/crash_hang\.ko' did not finish within 2000 ms \(.*reset\(\) brings a fresh kernel\)$/,
        )
        expect(hang.report).toContain('[crash_hang] sleeping forever')
        expect((await rejection(exec(['lsmod']))).kind).toBe('died')
        await b().reset()
        expect((await exec(['lsmod'])).stdout).toBe('Module                  Size  Used by\n')
      },
      testTimeout * 3,
    )

    it.runIf(!can.crash)(
      `stops a step at its timeoutMs with kind 'timeout' (cat /dev/kmsg waits for records forever)`,
      async () => {
        const e = await rejection(exec(['cat', '/dev/kmsg'], projectRoot, 500))
        expect(e.kind).toBe('timeout')
        expect(e.message).toMatch(/did not finish within 500 ms/)
        expect((await exec(['cat', '/proc/sys/kernel/tainted'])).exitCode).toBe(0)
      },
      testTimeout,
    )

    it.runIf(can.pristine)(
      'reset() brings a pristine kernel: nothing loaded, untainted, an empty log, once-per-boot lines again',
      async () => {
        await exec(['insmod', 'fixtures/hello/hello_api.ko'])
        expect((await exec(['cat', '/proc/sys/kernel/tainted'])).stdout).toBe('12288\n')
        await b().reset()
        expect((await exec(['cat', '/proc/sys/kernel/tainted'])).stdout).toBe('0\n')
        expect((await exec(['lsmod'])).stdout).toBe('Module                  Size  Used by\n')
        expect((await exec(['dmesg'])).stdout).toBe('')
        expect(texts(await exec(['insmod', 'fixtures/hello/hello_api.ko']))[0]).toBe('hello_api: loading out-of-tree module taints kernel.')
      },
      testTimeout * 2,
    )

    it.runIf(can.load && !can.pristine)(
      'reset() unloads what the run loaded (the kernel itself stays: taint and log persist)',
      async () => {
        expect((await exec(['insmod', 'fixtures/hello/hello_api.ko'])).exitCode).toBe(0)
        await b().reset()
        expect((await exec(['lsmod'])).stdout).not.toMatch(/^hello_api /m)
      },
      testTimeout,
    )

    it.runIf(!can.load)(
      'reset() with nothing loaded by the run leaves the kernel as it is',
      async () => {
        const before = (await exec(['cat', '/proc/modules'])).stdout
        await b().reset()
        expect((await exec(['cat', '/proc/modules'])).stdout).toBe(before)
      },
      testTimeout,
    )

    // Last: it closes the backend the file opened.
    it(
      'close() is idempotent; exec() and reset() after it are refused as usage errors',
      async () => {
        await b().close()
        await b().close()
        await usage(exec(['lsmod']), /closed/)
        await usage(b().reset(), /closed/)
      },
      testTimeout,
    )
  })
}
