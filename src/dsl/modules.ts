import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { isModuleModel, type ModuleModel } from './define.js'
import { StepFailure } from './errors.js'
import type { ModuleSource } from './options.js'

/** A module an action can name: a file on the host, or a model to be written as a synthetic .ko. */
export type ResolvedModule = { name: string; path: string; model?: undefined } | { name: string; path?: undefined; model: ModuleModel }

/** The kernel's name for a module file: basename without .ko, '-' as '_'. */
export function moduleNameOf(file: string): string {
  return path.basename(file).replace(/\.ko$/, '').replace(/-/g, '_')
}

async function koFiles(source: string): Promise<string[]> {
  const info = await stat(source).catch(() => undefined)
  if (!info) throw new StepFailure(`modules entry ${source} to exist`, 'no such file or directory')
  if (info.isFile()) return [source]
  const entries = await readdir(source, { recursive: true })
  return entries.filter((e) => e.endsWith('.ko')).sort().map((e) => path.join(source, e))
}

/** Looks names up in the `modules` option: each directory recursively, each .ko, each model. */
export class ModuleCatalog {
  private entries: ResolvedModule[] | undefined

  constructor(private readonly sources: ModuleSource[], private readonly cwd: string) {}

  private async load(): Promise<ResolvedModule[]> {
    if (!this.entries) {
      const found: ResolvedModule[] = []
      for (const source of this.sources) {
        if (isModuleModel(source)) found.push({ name: source.name, model: source })
        else for (const file of await koFiles(source)) found.push({ name: moduleNameOf(file), path: file })
      }
      this.entries = found
    }
    return this.entries
  }

  /** A name from `modules`, a model, or a path (anything with a `/` or ending in `.ko`). */
  async resolve(module: string | ModuleModel): Promise<ResolvedModule> {
    if (isModuleModel(module)) return { name: module.name, model: module }
    if (typeof module !== 'string' || module === '') throw new StepFailure('a module name, a .ko path or a defineModule() model', JSON.stringify(module) ?? String(module))
    const entries = await this.load()
    if (module.includes('/') || module.endsWith('.ko')) {
      const file = path.resolve(this.cwd, module)
      const known = entries.find((e) => e.path === file)
      if (known) return known
      if (!module.includes('/')) {
        const byName = entries.filter((e) => e.name === moduleNameOf(module))
        if (byName.length === 1) return byName[0]!
      }
      if (await stat(file).then((s) => s.isFile(), () => false)) return { name: moduleNameOf(file), path: file }
      throw new StepFailure(`a module file at ${module}`, 'no such file')
    }
    const wanted = module.replace(/-/g, '_')
    const matches = entries.filter((e) => e.name === wanted)
    if (matches.length === 1) return matches[0]!
    const where = this.sources.length === 0 ? 'no modules option' : this.sources.map((s) => (isModuleModel(s) ? `defineModule('${s.name}')` : path.relative(this.cwd, s) || '.')).join(', ')
    if (matches.length > 1) throw new StepFailure(`one module named ${wanted} in ${where}`, `${matches.length}: ${matches.map((m) => (m.path ? path.relative(this.cwd, m.path) : `defineModule('${m.name}')`)).join(', ')} (pass a path instead)`)
    const names = [...new Set(entries.map((e) => e.name))]
    throw new StepFailure(
      `a module named ${wanted} in ${where}`,
      names.length === 0 ? 'no modules there (add a directory or .ko to the modules option)' : `only ${names.join(', ')} (fix the name, or add its directory to modules)`,
    )
  }
}
