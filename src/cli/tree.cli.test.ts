// --tree on sh, run and diff: a bad value or a conflicting --sysroot is refused in one line; installed reaches the backend.
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'
import { withDir } from 'tmp-promise'
import { afterEach, expect, test, vi } from 'vitest'
import { main as diff } from './diff.js'
import { runSpecs } from './run.js'
import { main as sh } from './sh.js'

async function capture(run: () => Promise<number>) {
  let out = ''
  let err = ''
  vi.spyOn(process.stdout, 'write').mockImplementation((t) => ((out += String(t)), true))
  vi.spyOn(process.stderr, 'write').mockImplementation((t) => ((err += String(t)), true))
  try {
    return { code: await run(), out, err }
  } finally {
    vi.restoreAllMocks()
  }
}
afterEach(() => vi.restoreAllMocks())

const bad =
  "tree \"host\" (from the tree option) is not one of empty, installed: use 'installed' for the kernel's own /lib/modules/<release>, or leave it out\n"

test('a tree other than installed or empty is refused by sh, diff and run', async () => {
  expect(await capture(() => sh(['--tree', 'host', 'x.sh']))).toEqual({ code: 2, out: '', err: `kmodspec sh: ${bad}` })
  expect(await capture(() => diff(['--tree', 'host', 'x.sh']))).toEqual({ code: 2, out: '', err: `kmodspec diff: ${bad}` })
  let err = ''
  expect(await runSpecs(['--tree', 'host'], { cwd: '.', stdout: { write: () => true }, stderr: { write: (t: string) => (err += t) } })).toBe(2)
  expect(err).toBe(`kmodspec run: ${bad}`)
})

test('sh --tree installed with --sysroot is refused: both would give /lib/modules', async () => {
  expect(await capture(() => sh(['--tree', 'installed', '--sysroot', '/tmp', 'x.sh']))).toEqual({
    code: 2,
    out: '',
    err: 'kmodspec sh: --sysroot and --tree installed both give /lib/modules: use one of them\n',
  })
})

test("sh --tree installed: modprobe finds the kernel's own module and its dependencies", async () => {
  await withDir(
    async ({ path: dir }) => {
      const script = path.join(dir, 'bridge.sh')
      await writeFile(script, 'modprobe bridge\nlsmod\n')
      const r = await capture(() => sh(['--tree', 'installed', script]))
      expect(r.code).toBe(0)
      expect(r.out).toMatch(/^llc\s+16384\s+2 bridge,stp$/m)
      const empty = await capture(() => sh([script]))
      expect(empty.out).toContain('modprobe: FATAL: Module bridge not found in directory /lib/modules/6.1.0-56-amd64')
    },
    { unsafeCleanup: true },
  )
})

test("run --tree installed: a spec's kernel() without a tree option sees the kernel's own tree", async () => {
  await withDir(
    async ({ path: dir }) => {
      const { mkdir, symlink } = await import('node:fs/promises')
      await mkdir(path.join(dir, 'specs'))
      await symlink(path.resolve('node_modules'), path.join(dir, 'node_modules'))
      const entry = JSON.stringify(path.resolve('src', 'index.ts'))
      await writeFile(
        path.join(dir, 'specs', 'dummy.spec.ts'),
        `import { kernel } from ${entry}\nimport { test } from 'vitest'\ntest('modprobe dummy', async () => { await kernel({}).modprobe('dummy').expectLoaded('dummy') })\n`,
      )
      const io = (sink: { out: string }) => ({
        cwd: dir,
        env: {},
        stdout: { write: (t: string) => (sink.out += t) },
        stderr: { write: (t: string) => (sink.out += t) },
      })
      const installed = { out: '' }
      expect(await runSpecs(['--tree', 'installed'], io(installed))).toBe(0)
      expect(installed.out).toContain('1/1 specs passed')
      const empty = { out: '' }
      expect(await runSpecs([], io(empty))).toBe(1)
      expect(empty.out).toContain('0/1 specs passed')
    },
    { unsafeCleanup: true },
  )
})
