// tree: 'installed': /lib/modules/<release> is the host's installed tree, read lazily, written only in memory.
import { readFileSync, statSync } from 'node:fs'
import { expect, test } from 'vitest'
import type { SimKernel } from './kernel/types.js'
import { Vfs, VfsError } from './vfs.js'

const R = '6.1.0-56-amd64'
const T = `/lib/modules/${R}`
const kernel = { release: R, readFile: () => undefined, listDir: () => undefined, writeFile: () => -13 } as unknown as SimKernel
const tree = () => new Vfs({ release: R, kernel, tree: 'installed' })

test(`the release's directory is the host's tree (needs linux-image-${R}): indexes and modules, not the headers' build and source links`, () => {
  const vfs = tree()
  expect(vfs.readdir('/lib/modules')).toEqual([R])
  const names = vfs.readdir(T).sort()
  expect(names).toContain('kernel')
  expect(names).toContain('modules.dep.bin')
  expect(names).toContain('modules.builtin.modinfo')
  expect(names).not.toContain('build')
  expect(names).not.toContain('source')
  expect(vfs.stat(`${T}/build`)).toBeUndefined()
  expect(() => vfs.readdir(`${T}/build`)).toThrow(VfsError)
  expect(Buffer.from(vfs.readFile(`${T}/modules.dep`)).equals(readFileSync(`${T}/modules.dep`))).toBe(true)
  expect(vfs.stat(`${T}/kernel/lib/libcrc32c.ko`)).toMatchObject({ type: 'file', size: statSync(`${T}/kernel/lib/libcrc32c.ko`).size })
})

test('writes to the tree stay in memory: the host tree is never changed, and reset() brings it back', () => {
  const vfs = tree()
  const before = readFileSync(`${T}/modules.dep`)
  vfs.writeFile(`${T}/modules.dep`, 'rewritten\n')
  vfs.mkdir(`${T}/extra`)
  vfs.writeFile(`${T}/extra/mine.ko`, 'x')
  vfs.unlink(`${T}/modules.alias`)
  expect(vfs.readText(`${T}/modules.dep`)).toBe('rewritten\n')
  expect(vfs.readdir(T)).toContain('extra')
  expect(vfs.readdir(T)).not.toContain('modules.alias')
  expect(readFileSync(`${T}/modules.dep`).equals(before)).toBe(true)
  expect(statSync(`${T}/extra`, { throwIfNoEntry: false })).toBeUndefined()
  vfs.reset(kernel)
  expect(vfs.readdir(T)).toContain('modules.alias')
  expect(vfs.readdir(T)).not.toContain('extra')
  expect(Buffer.from(vfs.readFile(`${T}/modules.dep`)).equals(before)).toBe(true)
})

test("the headers' links cannot be made in the tree either", () => {
  const vfs = tree()
  expect(() => vfs.writeFile(`${T}/build`, 'x')).toThrow(VfsError)
  expect(() => vfs.mkdir(`${T}/source`)).toThrow(VfsError)
})

test('without the option the tree stays empty, in memory', () => {
  const vfs = new Vfs({ release: R, kernel })
  expect(vfs.readdir(T)).toEqual([])
})
