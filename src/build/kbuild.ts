/**
 * Build out-of-tree kernel modules with kbuild, as their authors do:
 * `make -C <headers> M=<dir> modules`, in a temp copy so the source tree stays clean.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { copyFile, cp, mkdir, readFile } from 'node:fs/promises'
import { release as osRelease } from 'node:os'
import { basename, dirname, join, relative, resolve } from 'node:path'
import process from 'node:process'
import { execa } from 'execa'
import { withDir } from 'tmp-promise'
import { EMBEDDED_RELEASE } from '../profile/embedded.js'

/** A build that could not start or did not succeed; the message says what to do. */
export class BuildError extends Error {
  constructor(
    message: string,
    /** What make and the compiler printed, when the build ran. */
    readonly output?: string,
  ) {
    super(message)
    this.name = 'BuildError'
  }
}

export interface BuildOptions {
  /** Kernel release to build for; its headers are `/lib/modules/<release>/build`. Default: {@link defaultRelease}. */
  release?: string
  /** Headers tree (a directory with the kernel's Makefile and Module.symvers); overrides `release`. */
  headersDir?: string
  /** Module.symvers files of other out-of-tree modules this one uses (KBUILD_EXTRA_SYMBOLS). */
  extraSymbols?: string[]
  /** Where the .ko files go. Default: `sourceDir`. */
  outDir?: string
  /** Also copy the build's Module.symvers to this file (for modules built against this one). */
  symversFile?: string
  /**
   * Say on stderr what is being built: on a terminal, a line updated in place; elsewhere (CI), one line when
   * each build ends. Default: on a terminal, or when CI is set. A cached build never gets here: warm runs are quiet.
   */
  progress?: boolean
}

/** CI systems set CI (GitHub, GitLab, and most others). */
function inCi(): boolean {
  const ci = process.env.CI
  return ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false'
}

/**
 * How a build reports itself: 'tty' (one line, updated in place), 'lines' (one line when it ends), or none.
 * @example progressMode(undefined) // 'lines' under CI=true without a terminal
 */
export function progressMode(option: boolean | undefined): 'tty' | 'lines' | undefined {
  if (option === false) return undefined
  if (process.stderr.isTTY === true) return 'tty'
  return option === true || inCi() ? 'lines' : undefined
}

/** Build artefacts kbuild leaves beside the sources; never copied into the temp tree. */
const litter = /(\.ko|\.o|\.mod|\.mod\.c|\.cmd|\.symvers|^modules\.order)$/

const modulesRoot = '/lib/modules'

/** The headers tree of an installed kernel release. */
export function headersDirFor(release: string): string {
  return join(modulesRoot, release, 'build')
}

/**
 * The release to build for when none is given: the simulator's default release (the pinned
 * 6.1.0-56-amd64) if its headers are installed, else the running kernel's, else the newest
 * installed release that has headers.
 *
 * @example defaultRelease() // '6.1.0-56-amd64'
 */
export function defaultRelease(): string {
  // The release the simulator simulates and the fixtures' captures come from, when its headers are
  // here: a host with newer headers installed must not change what the fixtures are built for.
  if (existsSync(join(headersDirFor(EMBEDDED_RELEASE), 'Makefile'))) return EMBEDDED_RELEASE
  const running = osRelease()
  if (existsSync(join(headersDirFor(running), 'Makefile'))) return running
  const installed = existsSync(modulesRoot) ? readdirSync(modulesRoot).filter((r) => existsSync(join(headersDirFor(r), 'Makefile'))) : []
  installed.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
  const newest = installed.at(-1)
  if (newest === undefined) {
    throw new BuildError(
      `no kernel headers found in ${modulesRoot}/*/build: install them with 'apt-get install linux-headers-amd64' ` +
        `(or linux-headers-<release> for a given kernel), or pass a headers directory`,
    )
  }
  return newest
}

/** Resolve and check the headers tree for a build; the error names the package to install. */
export function resolveHeaders(options: Pick<BuildOptions, 'release' | 'headersDir'>): string {
  if (options.headersDir !== undefined) {
    const dir = resolve(options.headersDir)
    if (!existsSync(join(dir, 'Makefile'))) {
      throw new BuildError(
        `${dir} is not a kernel headers tree (no Makefile there): pass the build directory of installed headers, e.g. /lib/modules/<release>/build`,
      )
    }
    return dir
  }
  const release = options.release ?? defaultRelease()
  const dir = headersDirFor(release)
  if (!existsSync(join(dir, 'Makefile'))) {
    throw new BuildError(`kernel headers for ${release} are not installed (no ${dir}): install them with 'apt-get install linux-headers-${release}'`)
  }
  return dir
}

/**
 * Build every module of a kbuild directory (one with a Kbuild or Makefile) and return the
 * paths of the .ko files, in the order of kbuild's modules.order. The build runs in a temp
 * copy that is always removed, so no .o/.mod/.cmd files appear beside the sources.
 *
 * @example
 * const kos = await buildModules('fixtures/hello', { release: '6.1.0-56-amd64' })
 * // ['/…/fixtures/hello/hello_api.ko', '/…/fixtures/hello/hello_feature.ko']
 */
export async function buildModules(sourceDir: string, options: BuildOptions = {}): Promise<string[]> {
  const source = resolve(sourceDir)
  if (!existsSync(source) || !statSync(source).isDirectory()) {
    throw new BuildError(`module source directory ${source} does not exist: pass a directory with a Kbuild file and the .c sources`)
  }
  if (!existsSync(join(source, 'Kbuild')) && !existsSync(join(source, 'Makefile'))) {
    throw new BuildError(`${source} has no Kbuild or Makefile: add a Kbuild file listing the modules (obj-m += name.o)`)
  }
  const headers = resolveHeaders(options)
  const extra = (options.extraSymbols ?? []).map((file) => resolve(file))
  for (const file of extra) {
    if (!existsSync(file)) throw new BuildError(`extra symbols file ${file} does not exist: build the module that exports them first`)
  }
  const outDir = resolve(options.outDir ?? source)
  const progress = progressMode(options.progress)
  const fromCwd = relative(process.cwd(), source)
  const release = basename(headers) === 'build' ? basename(dirname(headers)) : headers
  const label = `${fromCwd === '' ? '.' : fromCwd.startsWith('..') ? source : fromCwd} for ${release}`
  const started = Date.now()
  const took = () => `${((Date.now() - started) / 1000).toFixed(1)} s`
  const done = (what: string) => {
    if (progress === 'tty') process.stderr.write(`\r\x1b[K  KBUILD  ${label}: ${what} (${took()})\n`)
    else if (progress === 'lines') process.stderr.write(`kmodspec: KBUILD ${label}: ${what} (${took()})\n`)
  }
  if (progress === 'tty') process.stderr.write(`  KBUILD  ${label} ...`)

  try {
    return await withDir(
      async ({ path: tmp }) => {
        // Not node_modules nor dot-directories (.git): a module at a project's root must not copy the project.
        const skip = (name: string) => litter.test(name) || name === 'node_modules' || name.startsWith('.')
        await cp(source, tmp, { recursive: true, filter: (from) => from === source || !skip(basename(from)) })
        const output = await runMake(headers, tmp, extra, source)
        const built = await modulesBuilt(tmp)
        if (built.length === 0) {
          throw new BuildError(`kbuild built no modules in ${source}: does its Kbuild list any (obj-m += name.o)?`, output)
        }
        const results: string[] = []
        for (const rel of built) {
          const target = join(outDir, rel)
          await mkdir(dirname(target), { recursive: true })
          await copyFile(join(tmp, rel), target)
          results.push(target)
        }
        if (options.symversFile !== undefined) {
          await mkdir(dirname(resolve(options.symversFile)), { recursive: true })
          await copyFile(join(tmp, 'Module.symvers'), resolve(options.symversFile))
        }
        done(built.map((b) => basename(b)).join(' '))
        return results
      },
      { unsafeCleanup: true, prefix: 'kmodspec-kbuild-' },
    )
  } catch (error) {
    done('failed')
    throw error
  }
}

/** Run kbuild; the error carries what make and the compiler printed. */
async function runMake(headers: string, dir: string, extraSymbols: string[], source: string): Promise<string> {
  const args = ['-C', headers, `M=${dir}`, '-j2']
  if (extraSymbols.length > 0) args.push(`KBUILD_EXTRA_SYMBOLS=${extraSymbols.join(' ')}`)
  // Map the temp dir away in debug info, so a rebuild gives the same bytes wherever it ran.
  args.push(`KCFLAGS=-ffile-prefix-map=${dir}/=`, 'modules')
  const result = await execa('make', args, { all: true, reject: false, env: { LC_ALL: 'C' }, stdin: 'ignore' })
  // Name the user's files, not the temp copy, in the compiler's messages.
  const output = (result.all ?? '').replaceAll(dir, source)
  if (result.failed) {
    if ((result as { code?: string }).code === 'ENOENT') {
      throw new BuildError(`'make' is not installed: install a compiler toolchain with 'apt-get install build-essential'`)
    }
    throw new BuildError(`kbuild failed for ${source} (make exited with ${result.exitCode ?? result.signal}):\n${output}`, output)
  }
  return output
}

/** The .ko files kbuild made, relative to the build dir, in modules.order's order. */
async function modulesBuilt(dir: string): Promise<string[]> {
  const order = join(dir, 'modules.order')
  if (!existsSync(order)) return []
  const lines = (await readFile(order, 'utf8')).split('\n').filter((l) => l.trim() !== '')
  // modules.order names .o files on some kernels and .ko files on others.
  return lines
    .map((l) => l.trim().replace(/\.o$/, '.ko'))
    .map((l) => relative(dir, resolve(dir, l)))
    .filter((rel) => existsSync(join(dir, rel)))
}
