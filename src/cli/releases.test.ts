// Installed releases and what a missing one needs, on kernel roots laid out by the test.
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { withDir } from 'tmp-promise'
import { expect, test } from 'vitest'
import { installedReleases, parseReleaseList, releaseProblem } from './releases.js'

test('each kind of missing release is one line naming the package and the setup line', async () => {
  await withDir(
    async ({ path: dir }) => {
      const roots = { boot: path.join(dir, 'boot'), modules: path.join(dir, 'modules') }
      await mkdir(roots.boot)
      await mkdir(path.join(roots.modules, '6.1.0-56-amd64', 'build'), { recursive: true })
      await writeFile(path.join(roots.boot, 'vmlinuz-6.1.0-56-amd64'), '')
      await mkdir(path.join(roots.modules, '6.12.117+deb12-amd64', 'build'), { recursive: true }) // headers only
      await writeFile(path.join(roots.boot, 'vmlinuz-6.1.0-56-rt-amd64'), '') // image only
      await mkdir(path.join(roots.modules, '6.1.0-56-rt-amd64'))
      expect(installedReleases(roots)).toEqual([
        { release: '6.1.0-56-amd64', image: true, headers: true },
        { release: '6.1.0-56-rt-amd64', image: true, headers: false },
        { release: '6.12.117+deb12-amd64', image: false, headers: true },
      ])
      const both = { image: true, headers: true }
      expect(releaseProblem('6.1.0-56-amd64', both, roots)).toBeUndefined()
      expect(releaseProblem('6.12.117+deb12-amd64', both, roots)).toBe(
        "kernel release 6.12.117+deb12-amd64 has headers but no kernel image (/boot/vmlinuz-6.12.117+deb12-amd64): install linux-image-6.12.117+deb12-amd64 ('kmodspec setup --release 6.12.117+deb12-amd64')",
      )
      expect(releaseProblem('6.12.117+deb12-amd64', { image: false, headers: true }, roots)).toBeUndefined()
      expect(releaseProblem('6.1.0-56-rt-amd64', both, roots)).toBe(
        "kernel release 6.1.0-56-rt-amd64 has a kernel image but no headers (/lib/modules/6.1.0-56-rt-amd64/build): install linux-headers-6.1.0-56-rt-amd64 ('kmodspec setup --release 6.1.0-56-rt-amd64')",
      )
      expect(releaseProblem('6.1.0-47-amd64', both, roots)).toBe(
        "kernel release 6.1.0-47-amd64 is not installed (installed: 6.1.0-56-amd64, 6.1.0-56-rt-amd64, 6.12.117+deb12-amd64): add it with 'kmodspec setup --release 6.1.0-47-amd64'",
      )
      expect(releaseProblem('../etc', both, roots)).toBe("'../etc' is not a kernel release (like 6.1.0-56-amd64): see 'ls /lib/modules'")
    },
    { unsafeCleanup: true },
  )
})

test('release lists: comma-separated, repeated, without blanks or repeats', () => {
  expect(parseReleaseList(['a,b', 'b', ' c ,', ''])).toEqual(['a', 'b', 'c'])
})
