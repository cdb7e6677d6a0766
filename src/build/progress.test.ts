// What a build says on stderr: a line updated in place on a terminal, one line per build in CI, nothing when
// the build is cached (a warm run) or nobody watches.
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'
import { withDir } from 'tmp-promise'
import { afterEach, expect, test, vi } from 'vitest'
import { buildCached } from './cache.js'

const release = '6.1.0-56-amd64'
const tiny = '#include <linux/module.h>\nstatic int __init tiny_init(void) { return 0; }\nmodule_init(tiny_init);\nMODULE_LICENSE("GPL");\n'

afterEach(() => {
  vi.unstubAllEnvs()
  vi.restoreAllMocks()
})

/** Two builds of the same sources (the second from the cache), with what each wrote on stderr. */
async function twice(tty: boolean): Promise<[string, string]> {
  return withDir(
    async ({ path: dir }) => {
      const src = path.join(dir, 'tiny')
      await mkdir(src)
      await writeFile(path.join(src, 'tiny.c'), tiny)
      await writeFile(path.join(src, 'Kbuild'), 'obj-m += tiny.o\n')
      const said: string[] = []
      const saved = process.stderr.isTTY
      Object.defineProperty(process.stderr, 'isTTY', { value: tty, configurable: true })
      try {
        for (let i = 0; i < 2; i++) {
          let text = ''
          const spy = vi.spyOn(process.stderr, 'write').mockImplementation((t) => ((text += String(t)), true))
          await buildCached(src, { release, cacheRoot: path.join(dir, 'cache') })
          spy.mockRestore()
          said.push(
            text
              .split(src)
              .join('<src>')
              .replace(/\d+\.\d s/, 'N s'),
          )
        }
      } finally {
        Object.defineProperty(process.stderr, 'isTTY', { value: saved, configurable: true })
      }
      return said as [string, string]
    },
    { unsafeCleanup: true },
  )
}

test('in CI without a terminal: one line per build, nothing when cached', async () => {
  vi.stubEnv('CI', 'true')
  expect(await twice(false)).toEqual([`kmodspec: KBUILD <src> for ${release}: tiny.ko (N s)\n`, ''])
}, 60_000)

test('on a terminal: a line updated in place, nothing when cached', async () => {
  vi.stubEnv('CI', '')
  expect(await twice(true)).toEqual([`  KBUILD  <src> for ${release} ...\r\x1b[K  KBUILD  <src> for ${release}: tiny.ko (N s)\n`, ''])
}, 60_000)

test('neither a terminal nor CI: nothing', async () => {
  vi.stubEnv('CI', '')
  expect(await twice(false)).toEqual(['', ''])
}, 60_000)
