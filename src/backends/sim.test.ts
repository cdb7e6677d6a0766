// The sim backend on the seeds' scenarios; expected texts are the seeds' real-kernel output.
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { dir as tmpDir } from 'tmp-promise'
import { afterEach, beforeEach, expect, test } from 'vitest'
import { createSimBackend } from './sim.js'
import type { Backend } from './types.js'

const root = process.cwd()
let k: Backend
const run = async (...argv: string[]) => {
  const r = await k.exec(argv, { cwd: root })
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, dmesg: r.dmesg.map((d) => d.text) }
}

beforeEach(async () => {
  k = await createSimBackend()
})
afterEach(async () => k.close())

test('insmod in dependency order, rmmod in reverse: the seed\'s kernel log', async () => {
  expect(await run('insmod', 'fixtures/hello/hello_api.ko')).toMatchObject({ exitCode: 0, stderr: '' })
  const feature = await run('insmod', 'fixtures/hello/hello_feature.ko')
  expect(feature.dmesg).toContain('[hello_feature] Hello, World!')
  expect(await run('rmmod', 'hello_api')).toMatchObject({ exitCode: 1, stderr: 'rmmod: ERROR: Module hello_api is in use by: hello_feature\n' })
  expect((await run('rmmod', 'hello_feature')).dmesg).toEqual(['[hello_api] this is a test message.', '[hello_feature] Bye Bye, World!'])
  expect((await run('rmmod', 'hello_api')).dmesg).toEqual(['[hello_api] Bye bye, World!'])
  expect(await run('rmmod', 'hello_api')).toMatchObject({ exitCode: 1, stderr: 'rmmod: ERROR: Module hello_api is not currently loaded\n' })
})

test('the feature module alone: unknown symbol', async () => {
  const r = await run('insmod', 'fixtures/hello/hello_feature.ko')
  expect(r).toMatchObject({ exitCode: 1, stdout: '', stderr: 'insmod: ERROR: could not insert module fixtures/hello/hello_feature.ko: Unknown symbol in module\n' })
  expect(r.dmesg).toContain('hello_feature: Unknown symbol api_test (err -2)')
})

test('modinfo --field depends', async () => {
  expect(await run('modinfo', '--field', 'depends', 'fixtures/hello/hello_feature.ko')).toMatchObject({ exitCode: 0, stdout: 'hello_api\n' })
})

test('modprobe before and after install + depmod, then modprobe -r', async () => {
  expect(await run('modprobe', 'hello_feature')).toMatchObject({ exitCode: 1, stderr: `modprobe: FATAL: Module hello_feature not found in directory /lib/modules/${k.release}\n` })
  expect((await run('cp', 'fixtures/hello/hello_api.ko', 'fixtures/hello/hello_feature.ko', `/lib/modules/${k.release}/`)).exitCode).toBe(0)
  expect((await run('depmod', '-a')).exitCode).toBe(0)
  // the first out-of-tree load also taints (the seed's machine was tainted already): keep the modules' own lines
  const probe = await run('modprobe', 'hello_feature')
  expect(probe.exitCode).toBe(0)
  expect(probe.dmesg.filter((l) => l.startsWith('['))).toEqual(['[hello_api] Hello, World!', '[hello_feature] Hello, World!'])
  expect(await run('modprobe', '-r', 'hello_feature')).toMatchObject({
    exitCode: 0,
    dmesg: ['[hello_api] this is a test message.', '[hello_feature] Bye Bye, World!', '[hello_api] Bye bye, World!'],
  })
})

test('lsmod columns, dmesg -c, reset() and close()', async () => {
  await run('insmod', 'fixtures/hello/hello_api.ko')
  await run('insmod', 'fixtures/hello/hello_feature.ko')
  const lsmod = (await run('lsmod')).stdout.split('\n')
  expect(lsmod[0]).toBe('Module                  Size  Used by')
  expect(lsmod).toContainEqual(expect.stringMatching(/^hello_api {10} {0,8}\d+  1 hello_feature$/))
  expect((await run('dmesg', '-c')).stdout).toMatch(/^\[ *\d+\.\d{6}\] /m)
  expect((await run('dmesg')).stdout).toBe('')
  await k.reset()
  expect((await run('lsmod')).stdout).toBe('Module                  Size  Used by\n')
  expect((await run('ls', `/lib/modules/${k.release}`)).stdout).toBe('')
  await k.close()
  await expect(k.exec(['lsmod'])).rejects.toThrow(/closed/)
})

test('a host sysroot receives depmod\'s files; a missing one is refused with what to do', async () => {
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
