// kmodspec sh on the simulator, where a user sees what the kernel said and what the simulator adds:
// notes for unmodelled kernel functions, a script that goes on after an oops (as on the VM), and a
// second load of a module an oops left "Loading" (the VM waits for it forever).
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'
import { withDir } from 'tmp-promise'
import { afterEach, expect, test, vi } from 'vitest'
import { main } from './sh.js'

const fixtures = path.resolve(import.meta.dirname, '..', '..', 'fixtures')

async function sh(script: string) {
  return withDir(
    async ({ path: dir }) => {
      const file = path.join(dir, 's.sh')
      await writeFile(file, script)
      let out = ''
      let err = ''
      vi.spyOn(process.stdout, 'write').mockImplementation((t) => ((out += String(t)), true))
      vi.spyOn(process.stderr, 'write').mockImplementation((t) => ((err += String(t)), true))
      try {
        const code = await main([file])
        return { code, out, err }
      } finally {
        vi.restoreAllMocks()
      }
    },
    { unsafeCleanup: true },
  )
}
afterEach(() => vi.restoreAllMocks())

test('an unmodelled kernel function returns 0, is named in a note on stderr, and prints nothing in the kernel log', async () => {
  const { code, out, err } = await sh(`insmod ${fixtures}/exec/unmodelled.ko\n`)
  expect(code).toBe(0)
  expect(err.split('\n').filter(Boolean)).toEqual([
    'kmodspec: note: cpufreq_get: not modelled by the simulator; it returned 0',
    'kmodspec: note: cpufreq_quick_get_max: not modelled by the simulator; it returned 0',
  ])
  // The kernel's words only: the loader's taint lines and the module's own line, with the 0s it got.
  const log = out
    .split('\n')
    .filter((l) => l.startsWith('['))
    .map((l) => l.replace(/^\[ *[\d.]+\] /, ''))
  expect(log).toEqual([
    'unmodelled: loading out-of-tree module taints kernel.',
    'unmodelled: module verification failed: signature and/or required key missing - tainting kernel',
    'unmodelled: cpufreq_get(0)=0 cpufreq_quick_get_max(0)=0',
  ])
})

test('after an oops in an export another module called, the script goes on: the caller stays Loading and holds its exporter', async () => {
  const { code, out } = await sh(
    [
      `insmod ${fixtures}/crash/crash_export.ko`,
      `insmod ${fixtures}/crash/crash_export_user.ko`,
      'lsmod',
      'cat /sys/module/crash_export_user/initstate',
      'rmmod crash_export',
    ].join('\n') + '\n',
  )
  expect(out).toContain('kmodspec: the kernel failed: the kernel reported an oops during')
  expect(out).toContain('RIP: 0010:crash_export_second+0x5/0x12 [crash_export]\n')
  // lsmod's size is coresize (kmod reads /sys/module/<m>/coresize), as the VM printed it.
  expect(out).toContain('crash_export_user      16384  1\ncrash_export           16384  1 crash_export_user\n')
  expect(out).toContain('$ cat /sys/module/crash_export_user/initstate\ncoming\n')
  expect(out).toContain('rmmod: ERROR: Module crash_export is in use by: crash_export_user\n')
  expect(code).toBe(1)
})

test('loading a module again while an oops keeps it Loading never returns, and a note says why', async () => {
  const { out, err } = await sh(
    [
      `insmod ${fixtures}/crash/crash_export.ko`,
      `insmod ${fixtures}/crash/crash_export_user.ko`,
      `insmod ${fixtures}/crash/crash_export_user.ko`,
      'lsmod',
    ].join('\n') + '\n',
  )
  const after = out.slice(out.lastIndexOf(`$ insmod ${fixtures}/crash/crash_export_user.ko`))
  expect(after).toMatch(/kmodspec: the kernel failed: .* did not finish/)
  // A hang ends the script (as the VM's step timeout does): lsmod does not run.
  expect(after).not.toContain('$ lsmod')
  expect(err).toContain('crash_export_user: a module of this name is still loading (its init never returned)')
})
