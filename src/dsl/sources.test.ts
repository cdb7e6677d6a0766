// Module sources in kernel({ modules }): built with kbuild for the backend's release, cached, or used as built.
import { cp, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'
import { dir as tmpDir, type DirectoryResult } from 'tmp-promise'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { createBackend, type Backend } from '../backends/index.js'
import { buildCached, moduleCacheRoot } from '../build/cache.js'
import { patchModinfo } from '../build/modinfo-patch.js'
import { kernel } from './chain.js'
import { KmodspecError } from './errors.js'

const release = '6.1.0-56-amd64' // the simulator's, and the installed headers'
const fixtures = path.resolve(import.meta.dirname, '..', '..', 'fixtures')

const tinyC = `#include <linux/module.h>
#include <linux/printk.h>

static int level = 1;
module_param(level, int, 0444);
MODULE_PARM_DESC(level, "how loud");

static int __init tiny_init(void)
{
	pr_info("tiny: loaded\\n");
	return 0;
}

static void __exit tiny_exit(void)
{
	pr_info("tiny: unloaded\\n");
}

module_init(tiny_init);
module_exit(tiny_exit);
MODULE_LICENSE("GPL");
`

let work: DirectoryResult
let savedCache: string | undefined

beforeEach(async () => {
  work = await tmpDir({ prefix: 'kmodspec-sources-test-', unsafeCleanup: true })
  savedCache = process.env.XDG_CACHE_HOME
  process.env.XDG_CACHE_HOME = path.join(work.path, 'cache')
})

afterEach(async () => {
  if (savedCache === undefined) delete process.env.XDG_CACHE_HOME
  else process.env.XDG_CACHE_HOME = savedCache
  await work.cleanup()
})

async function writeTiny(body = tinyC): Promise<string> {
  const dir = path.join(work.path, 'tiny')
  await mkdir(dir, { recursive: true })
  await writeFile(path.join(dir, 'Kbuild'), 'obj-m += tiny.o\n')
  await writeFile(path.join(dir, 'tiny.c'), body)
  return dir
}

/** Every file under the cache root, relative to it. */
async function cacheFiles(): Promise<string[]> {
  const root = moduleCacheRoot()
  const entries = await readdir(root, { recursive: true }).catch(() => [] as string[])
  const files: string[] = []
  for (const e of entries) if ((await stat(path.join(root, e))).isFile()) files.push(e)
  return files.sort()
}

describe('module sources in kernel({ modules })', () => {
  test('are built for the backend release, loaded, and built once: a second run uses the cache', async () => {
    const dir = await writeTiny()
    const chain = () =>
      kernel({ modules: dir })
        .insmod('tiny', { level: 3 })
        .expectDmesg('tiny: loaded')
        .run(['cat', '/sys/module/tiny/parameters/level'])
        .expectOutput('3')
        .expectModinfo('tiny', { parm: 'level:how loud (int)' })
        .rmmod('tiny')
        .expectDmesg('tiny: unloaded')
    const first = await chain()
    expect(moduleCacheRoot()).toBe(path.join(work.path, 'cache', 'kmodspec', 'modules'))
    const files = await cacheFiles()
    expect(files).toEqual([
      expect.stringMatching(new RegExp(`^${release}/[0-9a-f]{16}/modules\\.list$`)),
      expect.stringMatching(new RegExp(`^${release}/[0-9a-f]{16}/tiny\\.ko$`)),
    ])
    const ko = path.join(moduleCacheRoot(), files[1]!)
    expect(first.transcript[1]!.argv).toEqual(['insmod', ko, 'level=3'])
    // The sources stay clean: kbuild ran in a copy.
    expect((await readdir(dir)).sort()).toEqual(['Kbuild', 'tiny.c'])

    const before = await stat(ko)
    await chain()
    const after = await stat(ko)
    expect(await cacheFiles()).toEqual(files)
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs])
    expect((await buildCached(dir, { release })).cached).toBe(true)

    // Other sources, another entry.
    await writeFile(path.join(dir, 'tiny.c'), tinyC.replace('tiny: loaded', 'tiny: loaded again'))
    await kernel({ modules: dir }).insmod('tiny').expectDmesg('tiny: loaded again')
    expect((await cacheFiles()).filter((f) => f.endsWith('tiny.ko'))).toHaveLength(2)
  })

  test('a compile error fails the step with the compiler output naming the user file', async () => {
    const dir = await writeTiny(tinyC.replace('return 0;', 'return nope;'))
    const error = await kernel({ modules: dir })
      .insmod('tiny')
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(error).toBeInstanceOf(KmodspecError)
    const e = error as KmodspecError
    expect(e.step?.call).toBe("insmod('tiny')")
    expect(e.expected).toBe(`the modules in ${dir} built for ${release}`)
    expect(e.actual).toContain(`kbuild failed for ${dir}`)
    expect(e.actual).toMatch(new RegExp(`${dir}/tiny\\.c:\\d+:\\d+: error: .nope. undeclared`))
    expect(await cacheFiles()).toEqual([])
  })

  test('missing headers fail the step naming the package to install', async () => {
    const dir = await writeTiny()
    const sim = await createBackend({ backend: 'sim' })
    try {
      // The sim backend as if it ran a kernel whose headers are not installed.
      const backend = Object.create(sim, { release: { value: '6.1.0-99-amd64' } }) as Backend
      const error = (await kernel({ backend, modules: dir })
        .insmod('tiny')
        .then(
          () => undefined,
          (e: unknown) => e,
        )) as KmodspecError
      expect(error.actual).toBe(
        "kernel headers for 6.1.0-99-amd64 are not installed (no /lib/modules/6.1.0-99-amd64/build): install them with 'apt-get install linux-headers-6.1.0-99-amd64'",
      )
    } finally {
      await sim.close()
    }
  })

  test('.ko files built for the release win over the sources beside them; others are rebuilt', async () => {
    const dir = path.join(work.path, 'hello')
    await cp(path.join(fixtures, 'hello'), dir, { recursive: true })
    const run = await kernel({ modules: dir }).insmod('hello_api').expectDmesg('[hello_api] Hello, World!')
    expect(run.transcript[1]!.argv).toEqual(['insmod', path.join(dir, 'hello_api.ko')])
    expect(await cacheFiles()).toEqual([])

    // One .ko for another release: the directory is built from its sources.
    const api = path.join(dir, 'hello_api.ko')
    await writeFile(api, patchModinfo(await readFile(api), 'vermagic', release, '6.1.0-99-amd64'))
    const rebuilt = await kernel({ modules: dir }).insmod('hello_api').expectDmesg('[hello_api] Hello, World!')
    expect(rebuilt.transcript[1]!.argv[1]).toMatch(new RegExp(`^${moduleCacheRoot()}/${release}/[0-9a-f]{16}/hello_api\\.ko$`))
    expect((await cacheFiles()).filter((f) => f.endsWith('.ko')).map((f) => path.basename(f))).toEqual(['hello_api.ko', 'hello_feature.ko'])
  })
})
