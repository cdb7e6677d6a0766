/**
 * The fixture tree the fixture scripts (fixtures/scripts/*.sh) run against, for one kernel release: the
 * pinned release uses the committed fixtures; any other gets its modules built with kbuild for it (vermagic
 * and CRCs differ), cached at `~/.cache/kmodspec/fixtures/<release>/<hash of the sources>/fixtures`.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import process from 'node:process'
import { execa } from 'execa'
import { EMBEDDED_RELEASE } from '../profile/embedded.js'
import { hashSources, moduleCacheRoot } from './cache.js'
import { buildFixtures, fixturesRoot } from './fixtures.js'
import { BuildError, resolveHeaders } from './kbuild.js'

/** The module directories of a release's tree (fixtures.ts's recipe without printk/: 6.8 removed APIs it uses). */
export const SCRIPT_MODULE_DIRS = ['hello', 'stacking/core', 'stacking/client', 'refcount', 'modprobe', 'crash', 'exec', 'tree', 'holders', 'errors'] as const

/** Compressed copies the scripts load (fixtures/compressed), made as Debian's kbuild makes them. */
const COMPRESSED: ReadonlyArray<[source: string, target: string]> = [
  ['hello/hello_api.ko', 'compressed/hello_api.ko.xz'],
  ['hello/hello_feature.ko', 'compressed/hello_feature.ko.zst'],
  ['errors/params.ko', 'compressed/params.ko.xz'],
]

/** The release's own modules.builtin files (fixtures/builtin holds the pinned release's copies). */
const BUILTIN = ['modules.builtin', 'modules.builtin.modinfo']

/** The root of the per-release fixture trees: beside the module cache, `~/.cache/kmodspec/fixtures`. */
export function releaseFixturesCacheRoot(): string {
  return join(dirname(moduleCacheRoot()), 'fixtures')
}

export interface ReleaseFixturesOptions {
  /** Default: {@link releaseFixturesCacheRoot}. */
  cacheRoot?: string
  /** Fixture sources. Default: the package's fixtures tree. */
  sourceDir?: string
  /** Where the release's own modules.builtin files are (`<modulesRoot>/<release>`). Default /lib/modules. */
  modulesRoot?: string
  progress?: boolean
}

/** A hash of what a release's fixture tree is made from: the module sources, not_elf.ko and the release's built-ins. */
async function treeKey(src: string, release: string, modulesRoot: string): Promise<string> {
  const parts = await Promise.all(SCRIPT_MODULE_DIRS.map((d) => hashSources(join(src, d))))
  const builtin = await Promise.all(
    BUILTIN.map((f) =>
      readFile(join(modulesRoot, release, f)).then(
        (b) => b.length,
        () => -1,
      ),
    ),
  )
  return createHash('sha256')
    .update(JSON.stringify([parts, builtin, (await readFile(join(src, 'errors', 'not_elf.ko'))).toString('base64')]))
    .digest('hex')
    .slice(0, 16)
}

/**
 * A directory to run the fixture scripts from on `release` (its `fixtures/` holds modules built for that
 * release), building it into the cache the first time.
 * @example const cwd = await releaseFixtures('6.12.117+deb12-amd64') // then `kmodspec sh` from cwd
 */
export async function releaseFixtures(release: string, options: ReleaseFixturesOptions = {}): Promise<string> {
  const src = resolve(options.sourceDir ?? fixturesRoot)
  if (release === EMBEDDED_RELEASE && options.sourceDir === undefined) return dirname(src)
  const modulesRoot = options.modulesRoot ?? '/lib/modules'
  resolveHeaders({ release })
  const dir = join(resolve(options.cacheRoot ?? releaseFixturesCacheRoot()), release, await treeKey(src, release, modulesRoot))
  const done = join(dir, 'fixtures', '.complete')
  if (existsSync(done)) return dir
  // One process builds a tree; others (test workers) wait for it rather than build it again on the same cores.
  const lock = `${dir}.lock`
  await mkdir(dirname(dir), { recursive: true })
  while (
    !(await mkdir(lock).then(
      () => true,
      () => false,
    ))
  ) {
    if (existsSync(done)) return dir
    const age = await stat(lock).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    )
    if (age > LOCK_STALE_MS) await rm(lock, { recursive: true, force: true })
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  try {
    if (!existsSync(done)) await buildTree(src, dir, release, modulesRoot, options.progress)
  } finally {
    await rm(lock, { recursive: true, force: true })
  }
  return dir
}

/** A lock older than this was left by a process that died while building (a build takes 1 to 3 minutes). */
const LOCK_STALE_MS = 15 * 60_000

async function buildTree(src: string, dir: string, release: string, modulesRoot: string, progress: boolean | undefined): Promise<void> {
  const done = join(dir, 'fixtures', '.complete')
  const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  const out = join(tmp, 'fixtures')
  try {
    await buildFixtures({ release, sourceDir: src, outDir: out, exclude: ['printk'], progress })
    for (const [from, to] of COMPRESSED) await compress(join(out, from), join(out, to))
    await mkdir(join(out, 'builtin'), { recursive: true })
    for (const f of BUILTIN) {
      const file = join(modulesRoot, release, f)
      if (!existsSync(file)) throw new BuildError(`${file} is missing: install linux-image-${release} ('kmodspec setup --release ${release}')`)
      await copyFile(file, join(out, 'builtin', f))
    }
    await writeFile(join(out, '.complete'), `${release}\n`)
    // Another process may have built the same tree meanwhile: keep the first.
    if (!existsSync(done)) {
      await rm(dir, { recursive: true, force: true })
      await mkdir(dirname(dir), { recursive: true })
      await rename(tmp, dir).catch((error: unknown) => {
        if (!existsSync(done)) throw error
      })
    }
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}

/** xz or zstd as kbuild's Makefile.modinst calls them (xz --check=crc32 --lzma2=dict=1MiB; zstd -T0). */
async function compress(from: string, to: string): Promise<void> {
  const [tool, args] = to.endsWith('.xz')
    ? (['xz', ['--check=crc32', '--lzma2=dict=1MiB', '-c', from]] as const)
    : (['zstd', ['-T0', '-q', '-c', from]] as const)
  const r = await execa(tool, [...args], { encoding: 'buffer', reject: false, stdin: 'ignore' })
  if (r.exitCode !== 0) {
    const why =
      (r as { code?: string }).code === 'ENOENT'
        ? `'${tool}' is not installed: apt-get install ${tool === 'xz' ? 'xz-utils' : 'zstd'}`
        : `${tool} exited with ${r.exitCode}`
    throw new BuildError(`cannot compress ${from}: ${why}`)
  }
  await mkdir(dirname(to), { recursive: true })
  await writeFile(to, r.stdout as Uint8Array)
}

/**
 * A directory of the package's own fixtures (fixtures/hello, fixtures/stacking...) as a spec names it, on another
 * release: the same directory in that release's fixture tree (modules built for it, the broken ones included);
 * undefined for the pinned release and for any other directory.
 * @example await packageFixturesFor('fixtures/stacking', '6.12.117+deb12-amd64') // '~/.cache/kmodspec/fixtures/6.12…/<hash>/fixtures/stacking'
 */
export async function packageFixturesFor(dir: string, release: string): Promise<string | undefined> {
  if (release === EMBEDDED_RELEASE) return undefined
  const [real, own] = await Promise.all([realpath(dir).catch(() => undefined), realpath(fixturesRoot).catch(() => undefined)])
  if (real === undefined || own === undefined) return undefined
  const rel = relative(own, real)
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return undefined
  const top = rel.split(sep)[0]
  if (!SCRIPT_MODULE_DIRS.some((d) => d.split('/')[0] === top)) return undefined
  return join(await releaseFixtures(release), 'fixtures', rel)
}
