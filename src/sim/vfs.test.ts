import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { dir as tmpDir } from 'tmp-promise'
import { expect, test } from 'vitest'
import type { SimKernel } from './kernel/types.js'
import { Vfs, VfsError } from './vfs.js'

const R = '6.1.0-56-amd64'
const kernel = {
  release: R,
  readFile: (p: string) => (p === '/proc/modules' ? 'x 16384 0 - Live 0x0000000000000000\n' : undefined),
  listDir: (p: string) => (p === '/sys/module' ? ['x'] : undefined),
  writeFile: () => -13,
} as unknown as SimKernel

test('without a sysroot, /lib/modules/<release> and /etc/modprobe.d exist and are empty, in memory', () => {
  const vfs = new Vfs({ release: R, kernel })
  expect(vfs.readdir(`/lib/modules/${R}`)).toEqual([])
  expect(vfs.readdir('/etc/modprobe.d')).toEqual([])
  expect(vfs.readdir('/lib/modules')).toEqual([R])
  vfs.writeFile('/etc/modprobe.d/a.conf', 'options x y=1\n')
  expect(vfs.readText('/etc/modprobe.d/a.conf')).toBe('options x y=1\n')
  expect(existsSync('/etc/modprobe.d/a.conf')).toBe(false)
})

test('other paths read the host and write only to the overlay', async () => {
  const t = await tmpDir({ unsafeCleanup: true })
  try {
    writeFileSync(join(t.path, 'host.txt'), 'from host\n')
    const vfs = new Vfs({ release: R, kernel })
    expect(vfs.readText(vfs.resolve('host.txt', t.path))).toBe('from host\n')
    vfs.writeFile(join(t.path, 'new.txt'), 'a\n')
    vfs.writeFile(join(t.path, 'new.txt'), 'b\n', true)
    vfs.mkdir(join(t.path, 'd/e'), true)
    vfs.unlink(join(t.path, 'host.txt'))
    expect(vfs.readText(join(t.path, 'new.txt'))).toBe('a\nb\n')
    expect(vfs.readdir(t.path).sort()).toEqual(['d', 'new.txt'])
    expect(readFileSync(join(t.path, 'host.txt'), 'utf8')).toBe('from host\n')
    expect(existsSync(join(t.path, 'new.txt'))).toBe(false)
    expect(existsSync(join(t.path, 'd'))).toBe(false)
    expect(() => vfs.readFile(join(t.path, 'host.txt'))).toThrow(VfsError)
    vfs.reset(kernel)
    expect(vfs.readText(join(t.path, 'host.txt'))).toBe('from host\n')
    expect(vfs.stat(join(t.path, 'new.txt'))).toBeUndefined()
  } finally {
    await t.cleanup()
  }
})

test('a host sysroot is read and written in place', async () => {
  const t = await tmpDir({ unsafeCleanup: true })
  try {
    mkdirSync(join(t.path, 'lib/modules', R), { recursive: true })
    const vfs = new Vfs({ release: R, kernel, sysroot: t.path })
    vfs.writeFile(`/lib/modules/${R}/modules.dep`, 'x\n')
    expect(readFileSync(join(t.path, 'lib/modules', R, 'modules.dep'), 'utf8')).toBe('x\n')
    expect(vfs.readdir(`/lib/modules/${R}`)).toEqual(['modules.dep'])
  } finally {
    await t.cleanup()
  }
})

test("replaceFile: a host sysroot's file is replaced by a new one renamed over it, as depmod writes its outputs", async () => {
  const t = await tmpDir({ unsafeCleanup: true })
  try {
    const dir = join(t.path, 'lib/modules', R)
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'modules.dep'), 'old\n')
    linkSync(join(dir, 'modules.dep'), join(t.path, 'kept'))
    const vfs = new Vfs({ release: R, kernel, sysroot: t.path })
    vfs.replaceFile(`/lib/modules/${R}/modules.dep`, 'new\n')
    expect(readFileSync(join(dir, 'modules.dep'), 'utf8')).toBe('new\n')
    // a new file: a link to the old one keeps the old bytes, and no temporary file is left
    expect(readFileSync(join(t.path, 'kept'), 'utf8')).toBe('old\n')
    expect(statSync(join(dir, 'modules.dep')).ino).not.toBe(statSync(join(t.path, 'kept')).ino)
    expect(readdirSync(dir)).toEqual(['modules.dep'])
    expect(() => vfs.replaceFile(`/lib/modules/${R}/nodir/modules.dep`, 'x')).toThrow(VfsError)
    expect(() => vfs.replaceFile(`/lib/modules/${R}`, 'x')).toThrow(VfsError)
    // in memory (no sysroot) it is writeFile
    const mem = new Vfs({ release: R, kernel })
    mem.replaceFile(`/lib/modules/${R}/modules.dep`, 'm\n')
    expect(mem.readText(`/lib/modules/${R}/modules.dep`)).toBe('m\n')
  } finally {
    await t.cleanup()
  }
})

test('/proc and /sys come from the kernel; errors carry errno', () => {
  const vfs = new Vfs({ release: R, kernel })
  expect(vfs.readText('/proc/modules')).toContain('x 16384')
  expect(vfs.readdir('/sys/module')).toEqual(['x'])
  expect(() => vfs.readFile('/nonexistent/file')).toThrow(expect.objectContaining({ errno: 2 }))
  expect(() => vfs.writeFile('/proc/modules', 'y')).toThrow(expect.objectContaining({ errno: 13 }))
  expect(() => vfs.mkdir('/nonexistent/a/b')).toThrow(expect.objectContaining({ errno: 2 }))
})

test('a host file rewritten, replaced or removed is read again; one unchanged for a while is not', async () => {
  const t = await tmpDir({ unsafeCleanup: true })
  try {
    const vfs = new Vfs({ release: R, kernel })
    const f = join(t.path, 'm.ko')
    writeFileSync(f, 'aaaa')
    expect(vfs.readText(f)).toBe('aaaa')
    // same inode, same size, and on a coarse file clock the same mtime and ctime
    writeFileSync(f, 'bbbb')
    expect(vfs.readText(f)).toBe('bbbb')
    renameSync(join(t.path, 'm.ko'), join(t.path, 'old.ko'))
    writeFileSync(join(t.path, 'm2.ko'), 'cccc')
    renameSync(join(t.path, 'm2.ko'), f)
    expect(vfs.readText(f)).toBe('cccc')
    unlinkSync(f)
    expect(() => vfs.readFile(f)).toThrow(VfsError)
    // a file last changed long ago is kept: the second read is the same bytes, not read again
    const old = new URL('../../fixtures/hello/hello_api.ko', import.meta.url).pathname
    expect(vfs.readFile(old)).toBe(vfs.readFile(old))
  } finally {
    await t.cleanup()
  }
})

test('stats are remembered only within one command (batch), and a write through the vfs is seen at once', async () => {
  const t = await tmpDir({ unsafeCleanup: true })
  try {
    mkdirSync(join(t.path, 'lib/modules', R), { recursive: true })
    const vfs = new Vfs({ release: R, kernel, sysroot: t.path })
    const dep = `/lib/modules/${R}/modules.dep`
    const host = join(t.path, 'lib/modules', R, 'modules.dep')
    vfs.batch(() => {
      expect(vfs.stat(dep)).toBeUndefined()
      vfs.writeFile(dep, 'abc\n')
      expect(vfs.stat(dep)).toMatchObject({ type: 'file', size: 4 })
      vfs.unlink(dep)
      expect(vfs.stat(dep)).toBeUndefined()
    })
    // between commands the host is asked again
    writeFileSync(host, 'x\n')
    expect(vfs.stat(dep)).toMatchObject({ type: 'file', size: 2 })
    vfs.batch(() => {
      expect(vfs.stat(dep)?.size).toBe(2)
      // a tool given the host path may change the file itself: the stats are no longer remembered
      writeFileSync(vfs.hostPath(dep)!, 'longer\n')
      expect(vfs.stat(dep)?.size).toBe(7)
    })
  } finally {
    await t.cleanup()
  }
})
