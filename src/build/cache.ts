/**
 * Module sources built once per content and kernel release, into a cache directory:
 * `$XDG_CACHE_HOME/kmodspec/modules/<release>/<hash of the sources>` (default `~/.cache/kmodspec`).
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { basename, join, relative, resolve } from 'node:path'
import process from 'node:process'
import { buildModules, resolveHeaders, type BuildOptions } from './kbuild.js'

/** Files kbuild writes beside the sources, and dotfiles (.git, .*.cmd): not part of the sources' identity. */
const notSource = /(\.ko|\.o|\.mod|\.mod\.c|\.cmd|\.symvers|^modules\.order|^\..*)$/

/** Name of the file in a cache entry that lists its .ko files in kbuild's order. */
const MANIFEST = 'modules.list'

/** The root of kmodspec's build cache for modules: `$XDG_CACHE_HOME/kmodspec/modules`, default `~/.cache/kmodspec/modules`. */
export function moduleCacheRoot(): string {
  const xdg = process.env.XDG_CACHE_HOME
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.cache'), 'kmodspec', 'modules')
}

/** What kbuild reads: C and assembler sources, headers, linker scripts, shipped blobs, Kbuild/Makefile/Kconfig. */
const kbuildInput = /(\.(c|h|S|s|lds|inc)|_shipped)$|^(Kbuild|Makefile|Kconfig|GNUmakefile)/

/**
 * The source files of a module directory (relative, sorted): what kbuild reads, without its outputs, dotfiles
 * and node_modules (a module at a project's root shares it with package.json, specs and reports).
 */
export async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .filter((e) => e.isFile() && kbuildInput.test(e.name))
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .filter((rel) => !rel.split('/').some((part) => notSource.test(part) || part === 'node_modules'))
    .sort()
}

/** A hash of every source file's path and bytes: the cache key, with the release. */
export async function hashSources(dir: string): Promise<string> {
  const hash = createHash('sha256')
  for (const rel of await sourceFiles(dir)) {
    hash.update(`${rel}\0`)
    hash.update(await readFile(join(dir, rel)))
    hash.update('\0')
  }
  return hash.digest('hex').slice(0, 16)
}

export interface CachedBuild {
  /** The .ko files, in kbuild's modules.order. */
  files: string[]
  /** The cache entry they are in. */
  dir: string
  /** True when this call found them there; false when it built them. */
  cached: boolean
}

export interface CachedBuildOptions extends Pick<BuildOptions, 'extraSymbols' | 'progress'> {
  /** Kernel release to build for; its headers are `/lib/modules/<release>/build`. */
  release: string
  /** Default: {@link moduleCacheRoot}. */
  cacheRoot?: string
}

// Chains running at once in one process share one build of the same sources.
const building = new Map<string, Promise<CachedBuild>>()

/**
 * Build a kbuild directory for a release unless the cache already holds the result for the
 * same sources. Concurrent builds (several test workers) each write a temp entry and rename
 * it into place; the first rename wins and the others use it.
 *
 * @example
 * const { files } = await buildCached('path/to/my_module', { release: '6.1.0-56-amd64' })
 */
export async function buildCached(sourceDir: string, options: CachedBuildOptions): Promise<CachedBuild> {
  const source = resolve(sourceDir)
  const root = resolve(options.cacheRoot ?? moduleCacheRoot())
  const dir = join(root, options.release, await hashSources(source))
  const pending = building.get(dir)
  if (pending) return pending
  const job = buildInto(source, dir, options).finally(() => building.delete(dir))
  building.set(dir, job)
  return job
}

async function readManifest(dir: string): Promise<string[] | undefined> {
  const text = await readFile(join(dir, MANIFEST), 'utf8').catch(() => undefined)
  if (text === undefined) return undefined
  const files = text
    .split('\n')
    .filter((l) => l !== '')
    .map((rel) => join(dir, rel))
  return files.every((f) => existsSync(f)) ? files : undefined
}

async function buildInto(source: string, dir: string, options: CachedBuildOptions): Promise<CachedBuild> {
  const hit = await readManifest(dir)
  if (hit) return { files: hit, dir, cached: true }
  // Check the headers first: a missing package is the one error to report.
  const headersDir = resolveHeaders({ release: options.release })
  const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  await mkdir(tmp, { recursive: true })
  try {
    const built = await buildModules(source, { headersDir, outDir: tmp, extraSymbols: options.extraSymbols, progress: options.progress })
    await writeFile(join(tmp, MANIFEST), built.map((f) => `${relative(tmp, f)}\n`).join(''))
    // Another worker may have put the same build in place meanwhile: keep that one.
    if (!(await readManifest(dir))) {
      await rm(dir, { recursive: true, force: true })
      await rename(tmp, dir).catch(async (error: unknown) => {
        if (!(await readManifest(dir))) throw error
      })
    }
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
  const files = await readManifest(dir)
  if (!files) throw new Error(`the build cache entry ${dir} vanished while in use: run again (is another process clearing ${basename(dir)}?)`)
  return { files, dir, cached: false }
}
