// kmodspec sh's help and its one-line refusals of options a backend would ignore; a script with a byte-order mark.
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'
import { withDir } from 'tmp-promise'
import { afterEach, expect, test, vi } from 'vitest'
import { main, shOptions } from './sh.js'
import { runOptions, runSpecs } from './run.js'

const hello = path.resolve(import.meta.dirname, '..', '..', 'fixtures', 'hello')

async function sh(argv: string[]) {
  let out = ''
  let err = ''
  vi.spyOn(process.stdout, 'write').mockImplementation((t) => ((out += String(t)), true))
  vi.spyOn(process.stderr, 'write').mockImplementation((t) => ((err += String(t)), true))
  try {
    const code = await main(argv)
    return { code, out, err }
  } finally {
    vi.restoreAllMocks()
  }
}
afterEach(() => vi.restoreAllMocks())

test('sh --help names the four backends and every option sh accepts', async () => {
  const { code, out } = await sh(['--help'])
  expect(code).toBe(0)
  expect(out.split('\n')[0]).toMatch(/^usage: kmodspec sh \[--backend sim\|qemu\|host\|ssh\] \[--release R\] \[--sysroot DIR\] .*\[SCRIPT\]$/)
  for (const [name, o] of Object.entries(shOptions)) expect(out).toMatch(new RegExp(`\\n  ${'short' in o ? `-${o.short}, ` : ''}--${name}[ \\n]`))
  expect(out).toContain('sim (default; else KMODSPEC_BACKEND), qemu, host')
})

test('run --help names the four backends and every option run accepts', async () => {
  let out = ''
  expect(await runSpecs(['--help'], { cwd: '.', stdout: { write: (t: string) => (out += t) }, stderr: { write: () => true } })).toBe(0)
  for (const [name, o] of Object.entries(runOptions)) expect(out).toMatch(new RegExp(`\\n  ${'short' in o ? `-${o.short}, ` : ''}--${name}[ \\n]`))
  expect(out).toContain('sim (default; else KMODSPEC_BACKEND), qemu, host or ssh')
})

test.each([
  [
    ['--backend', 'qemu', '--sysroot', '/tmp', 'x.sh'],
    'kmodspec sh: --sysroot is for the sim backend only (qemu uses the /lib/modules of its own kernel): drop it\n',
  ],
  [
    ['--backend', 'host', '--sysroot', '/tmp', 'x.sh'],
    'kmodspec sh: --sysroot is for the sim backend only (host uses the /lib/modules of its own kernel): drop it\n',
  ],
  [['--timeout', 'soon', 'x.sh'], "kmodspec sh: --timeout takes a whole number of milliseconds, not 'soon'\n"],
  [
    ['--release', '6.1.0-56-amd64,6.12.117+deb12-amd64', 'x.sh'],
    'kmodspec sh: one release at a time (got 6.1.0-56-amd64,6.12.117+deb12-amd64): kmodspec run runs specs on several\n',
  ],
  [['--backend', 'tape', 'x.sh'], "kmodspec sh: unknown backend 'tape' (from the backend option): use one of sim, qemu, host, ssh\n"],
])('sh %j is refused in one line', async (argv, message) => {
  expect(await sh(argv)).toEqual({ code: 2, out: '', err: message })
})

test("sh --timeout bounds a sim step on the simulated kernel's clock, as on the VM", async () => {
  await withDir(
    async ({ path: dir }) => {
      const script = path.join(dir, 'hang.sh')
      await writeFile(script, `insmod ${path.resolve(hello, '../crash/crash_hang.ko')}\n`)
      const r = await sh(['--timeout', '2000', script])
      expect(r.code).toBe(1)
      expect(r.out).toContain("kmodspec: the kernel failed: the command 'insmod ")
      expect(r.out).toContain("crash_hang.ko' did not finish within 2000 ms")
    },
    { unsafeCleanup: true },
  )
})

test('a script that starts with a byte-order mark runs (the mark is skipped)', async () => {
  await withDir(
    async ({ path: dir }) => {
      const script = path.join(dir, 'bom.sh')
      await writeFile(script, `\uFEFFinsmod ${hello}/hello_api.ko\nlsmod\n`)
      const r = await sh([script])
      expect(r.err).toBe('')
      expect(r.code).toBe(0)
      expect(r.out.split('\n').slice(-4)).toEqual(['$ lsmod', 'Module                  Size  Used by', 'hello_api              16384  0', ''])
    },
    { unsafeCleanup: true },
  )
})
