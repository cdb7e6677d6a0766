import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { buildCached } from '../build/cache.js'
import { BuildError } from '../build/kbuild.js'
import { packageFixturesFor } from '../build/release-fixtures.js'
import { modinfoValue, readModule } from '../elf/index.js'
import { isModuleModel, type ModuleModel } from './define.js'
import { StepFailure } from './errors.js'
import type { ModuleSource } from './options.js'

/** A module an action can name: a file on the host, or a model to be written as a synthetic .ko. */
export type ResolvedModule = { name: string; path: string; model?: undefined } | { name: string; path?: undefined; model: ModuleModel }

/** The kernel's name for a module file: basename without .ko, '-' as '_'. */
export function moduleNameOf(file: string): string {
  return path.basename(file).replace(/\.ko$/, '').replace(/-/g, '_')
}

async function readVermagicRelease(file: string): Promise<string | undefined> {
  try {
    return modinfoValue(readModule(await readFile(file)), 'vermagic')?.split(' ')[0]
  } catch {
    return undefined // not a module we can read (a test's broken .ko): it belongs to no release
  }
}

async function isKbuildDir(dir: string): Promise<boolean> {
  const names = await readdir(dir)
  return (names.includes('Kbuild') || names.includes('Makefile')) && names.some((n) => n.endsWith('.c'))
}

/**
 * The .ko files a `modules` entry stands for, on a kernel of this release.
 *
 * - A `.ko` file: itself.
 * - A directory with a Kbuild or Makefile and .c files (a kbuild directory): its own .ko files
 *   (searched recursively) when there is at least one and none was built for another release
 *   (vermagic); otherwise its sources are built with kbuild against
 *   `/lib/modules/<release>/build` into the cache (`$XDG_CACHE_HOME/kmodspec/modules/<release>/<hash>`,
 *   default `~/.cache/kmodspec`), once per content and release. So .ko files built for the
 *   backend's release win over the sources: delete or rebuild stale ones after editing the C.
 * - Any other directory: its .ko files, searched recursively, used as they are.
 */
export async function modulesIn(source: string, release: string): Promise<string[]> {
  const info = await stat(source).catch(() => undefined)
  if (!info) throw new StepFailure(`modules entry ${source} to exist`, 'no such file or directory')
  if (info.isFile()) return [source]
  // kmodspec's own fixtures on another release: the tree built for it, broken modules included (build/release-fixtures.ts).
  const own = await packageFixturesFor(source, release).catch((error: unknown) => {
    if (error instanceof BuildError) throw new StepFailure(`the modules in ${source} built for ${release}`, error.message, { cause: error })
    throw error
  })
  if (own !== undefined) return modulesIn(own, release)
  const entries = await readdir(source, { recursive: true })
  // A project root as `modules: '.'`: the .ko files of installed packages (node_modules) are not the project's.
  const kos = entries
    .filter((e) => e.endsWith('.ko') && !e.split(path.sep).some((part) => part === 'node_modules' || part.startsWith('.')))
    .sort()
    .map((e) => path.join(source, e))
  if (!(await isKbuildDir(source))) return kos
  const releases = await Promise.all(kos.map(readVermagicRelease))
  if (kos.length > 0 && releases.every((r) => r === undefined || r === release)) return kos
  try {
    return (await buildCached(source, { release })).files
  } catch (error) {
    if (error instanceof BuildError) throw new StepFailure(`the modules in ${source} built for ${release}`, error.message, { cause: error })
    throw error
  }
}

/** Looks names up in the `modules` option: each directory (see {@link modulesIn}), each .ko, each model. */
export class ModuleCatalog {
  private entries: ResolvedModule[] | undefined

  constructor(
    private readonly sources: ModuleSource[],
    private readonly cwd: string,
    private readonly release: string,
  ) {}

  private async load(): Promise<ResolvedModule[]> {
    if (!this.entries) {
      const found: ResolvedModule[] = []
      for (const source of this.sources) {
        if (isModuleModel(source)) found.push({ name: source.name, model: source })
        else for (const file of await modulesIn(source, this.release)) found.push({ name: moduleNameOf(file), path: file })
      }
      this.entries = found
    }
    return this.entries
  }

  /** A name from `modules`, a model, or a path (anything with a `/` or ending in `.ko`). */
  async resolve(module: string | ModuleModel): Promise<ResolvedModule> {
    if (isModuleModel(module)) return { name: module.name, model: module }
    if (typeof module !== 'string' || module === '')
      throw new StepFailure('a module name, a .ko path or a defineModule() model', JSON.stringify(module) ?? String(module))
    const entries = await this.load()
    if (module.includes('/') || module.endsWith('.ko')) {
      const file = path.resolve(this.cwd, module)
      const known = entries.find((e) => e.path === file)
      if (known) return known
      if (!module.includes('/')) {
        const byName = entries.filter((e) => e.name === moduleNameOf(module))
        if (byName.length === 1) return byName[0]!
      }
      if (
        await stat(file).then(
          (s) => s.isFile(),
          () => false,
        )
      )
        return { name: moduleNameOf(file), path: file }
      throw new StepFailure(`a module file at ${module}`, 'no such file')
    }
    const wanted = module.replace(/-/g, '_')
    const matches = entries.filter((e) => e.name === wanted)
    if (matches.length === 1) return matches[0]!
    const where =
      this.sources.length === 0
        ? 'no modules option'
        : this.sources.map((s) => (isModuleModel(s) ? `defineModule('${s.name}')` : path.relative(this.cwd, s) || '.')).join(', ')
    if (matches.length > 1)
      throw new StepFailure(
        `one module named ${wanted} in ${where}`,
        `${matches.length}: ${matches.map((m) => (m.path ? path.relative(this.cwd, m.path) : `defineModule('${m.name}')`)).join(', ')} (pass a path instead)`,
      )
    const names = [...new Set(entries.map((e) => e.name))]
    throw new StepFailure(
      `a module named ${wanted} in ${where}`,
      names.length === 0
        ? 'no modules there (add a directory or .ko to the modules option)'
        : `only ${names.join(', ')} (fix the name, or add its directory to modules)`,
    )
  }
}
