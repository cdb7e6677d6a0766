/**
 * The recipe that builds every fixture module, in the order their symbols need, plus the
 * deliberately broken ones (fake Module.symvers, patched vermagic, truncated and non-ELF files).
 */
import { existsSync } from 'node:fs'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { withDir } from 'tmp-promise'
import { buildModules, resolveHeaders, type BuildOptions } from './kbuild.js'
import { patchModinfo } from './modinfo-patch.js'
import { changeSymbol } from './symvers.js'

/** The package's own fixtures tree (src/build/ and dist/build/ both sit two levels below the root). */
export const fixturesRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures')

export interface FixtureBuildOptions {
  /** Kernel release to build for (its headers under /lib/modules/<release>/build). */
  release?: string
  /** Headers tree; overrides `release`. */
  headersDir?: string
  /** Where the built tree goes (same layout as fixtures/). Default: the fixtures tree itself. */
  outDir?: string
  /** Sources to build. Default: {@link fixturesRoot}. */
  sourceDir?: string
  /** One line per module directory on stderr. Default: when stderr is a terminal. */
  progress?: boolean
  /**
   * Module directories to leave out, e.g. `['printk']`: its sources use APIs later kernels removed
   * (strlcpy), and no fixture script loads it.
   */
  exclude?: readonly string[]
}

/** How many bytes of hello_api.ko truncated.ko keeps: an ELF header, but section headers past the end. */
export const truncatedLength = 1000

/**
 * Build every fixture into `outDir` (default: the fixtures tree) and return the files written.
 * The VM backend calls this to get fixtures for another kernel release into a cache dir.
 *
 * @example await buildFixtures({ release: '6.1.0-56-amd64', outDir: '/tmp/fixtures-6.1' })
 */
export async function buildFixtures(options: FixtureBuildOptions = {}): Promise<string[]> {
  const src = resolve(options.sourceDir ?? fixturesRoot)
  const out = resolve(options.outDir ?? src)
  // Check the headers once up front, so a missing package is the first and only error.
  const headersDir = resolveHeaders(options)
  const common: BuildOptions = { headersDir, progress: options.progress }
  const written: string[] = []

  await withDir(
    async ({ path: work }) => {
      const symvers = (name: string) => join(work, `${name}.symvers`)
      const build = async (dir: string, extra: Partial<BuildOptions> = {}) => {
        if (options.exclude?.includes(dir)) return
        written.push(...(await buildModules(join(src, dir), { ...common, outDir: join(out, dir), ...extra })))
      }

      await build('hello', { symversFile: symvers('hello') })
      // core before client: client links against core's exports through KBUILD_EXTRA_SYMBOLS.
      await build('stacking/core', { symversFile: symvers('core') })
      await build('stacking/client', { extraSymbols: [symvers('core')] })
      await build('refcount')
      await build('modprobe')
      await build('crash')
      await build('exec')
      await build('printk')
      await build('tree')
      // prop_ok: a second holder of core_lkm, linked against core's exports like client_lkm.
      await build('holders', { extraSymbols: [symvers('core')] })

      // gpl_user: core_gpl_greet marked EXPORT_SYMBOL, so modpost links a proprietary module to it.
      const core = await readFile(symvers('core'), 'utf8')
      await writeFile(
        symvers('core-not-gpl'),
        changeSymbol(core, 'core_gpl_greet', () => ({ exportType: 'EXPORT_SYMBOL' })),
      )
      // crc_mismatch: api_test with every CRC bit flipped, so the kernel's check must fail.
      const hello = await readFile(symvers('hello'), 'utf8')
      await writeFile(
        symvers('hello-bad-crc'),
        changeSymbol(hello, 'api_test', (e) => ({ crc: ~e.crc >>> 0 })),
      )
      await build('errors', { extraSymbols: [symvers('core-not-gpl'), symvers('hello-bad-crc')] })
    },
    { unsafeCleanup: true, prefix: 'kmodspec-fixtures-' },
  )

  // bad_vermagic: a part of vermagic the kernel compares even with modversions (after the release).
  const badVermagic = join(out, 'errors', 'bad_vermagic.ko')
  await writeFile(badVermagic, patchModinfo(await readFile(badVermagic), 'vermagic', 'mod_unload', 'mod_unl0ad'))

  const truncated = join(out, 'errors', 'truncated.ko')
  await writeFile(truncated, (await readFile(join(out, 'hello', 'hello_api.ko'))).subarray(0, truncatedLength))
  written.push(truncated)

  const notElf = join(out, 'errors', 'not_elf.ko')
  if (notElf !== join(src, 'errors', 'not_elf.ko')) {
    if (!existsSync(join(src, 'errors', 'not_elf.ko'))) throw new Error(`${join(src, 'errors', 'not_elf.ko')} is missing: restore it from git`)
    await mkdir(dirname(notElf), { recursive: true })
    await copyFile(join(src, 'errors', 'not_elf.ko'), notElf)
  }
  written.push(notElf)
  return written
}
