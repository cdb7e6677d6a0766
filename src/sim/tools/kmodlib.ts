/**
 * The parts of libkmod the tools share: module names, the loaded-module state read from
 * /proc and /sys, and module lookup in /lib/modules/<release> through depmod's indexes.
 */
import { posix } from 'node:path'
import { readModule } from '../../elf/module.js'
import type { ModuleInfo } from '../../elf/types.js'
import { ElfError } from '../../elf/types.js'
import { elfErrno } from './errors.js'
import { abspath, type ToolContext } from './context.js'
import { readIndex } from './index-bin.js'
import { kmodFileOpen } from './decompress.js'
import { loadConfig, parseFile, type ModprobeConfig } from './config.js'

/** kmod_exts of Debian's kmod 30 (+XZ +ZSTD -ZLIB): a .ko.gz is not a module to it. */
export const MODULE_EXTS = ['.ko', '.ko.xz', '.ko.zst']

/** libkmod's path_to_modname: basename without extension, '-' → '_'. */
export function pathToModname(path: string): string {
  const base = posix.basename(path)
  const dot = base.indexOf('.')
  return normalizeName(dot < 0 ? base : base.slice(0, dot))
}

/** Module names treat '-' and '_' alike; the kernel and kmod use '_'. */
export function normalizeName(name: string): string {
  return name.replace(/-/g, '_')
}

/** alias_normalize: '-' → '_' except inside [...] ranges. */
export function normalizeAlias(alias: string): string {
  let out = ''
  let inRange = false
  for (const c of alias) {
    if (c === '[') inRange = true
    else if (c === ']') inRange = false
    out += c === '-' && !inRange ? '_' : c
  }
  return out
}

export function hasModuleExt(path: string): boolean {
  return MODULE_EXTS.some((e) => path.endsWith(e) && path.length > e.length)
}

/** Where modprobe, modinfo and depmod look for modules. */
export function moduleDir(ctx: ToolContext, root = '', release = ctx.release): string {
  return `${root}/lib/modules/${release}`
}

export type InitState = 'live' | 'coming' | 'going' | 'builtin'

/** kmod_module_get_initstate: from /sys/module/<name>/initstate; a directory without it is builtin. */
export function initState(ctx: ToolContext, name: string): InitState | undefined {
  const state = ctx.kernel.readFile(`/sys/module/${name}/initstate`)
  if (state !== undefined) return state.trim() as InitState
  return ctx.kernel.listDir(`/sys/module/${name}`) !== undefined ? 'builtin' : undefined
}

/** kmod_module_get_refcnt: /sys/module/<name>/refcnt, or -ENOENT when the module is not loaded. */
export function refcnt(ctx: ToolContext, name: string): number {
  const text = ctx.kernel.readFile(`/sys/module/${name}/refcnt`)
  return text === undefined ? -2 : Number.parseInt(text, 10)
}

export function holders(ctx: ToolContext, name: string): string[] {
  return ctx.kernel.listDir(`/sys/module/${name}/holders`) ?? []
}

export interface LoadedModule {
  name: string
  size: number
}

/** kmod_module_new_from_loaded: /proc/modules, in its order. */
export function loadedModules(ctx: ToolContext): LoadedModule[] {
  const text = ctx.kernel.readFile('/proc/modules') ?? ''
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name, size] = line.split(' ')
      return { name: name!, size: Number(size) }
    })
}

/** A module as libkmod sees it: a name, maybe a file, and the alias it was found by. */
export interface KmodModule {
  name: string
  /** Absolute path inside the simulated machine; undefined for builtin or unknown modules. */
  path?: string
  builtin?: boolean
  /** Dependencies' paths as modules.dep lists them (already absolute). */
  deps?: string[]
  /** The alias the lookup went through, when it did (blacklist applies to aliases only). */
  alias?: string
}

/** Read and parse a module file of the simulated machine; errors carry a negative errno. */
export function loadModuleFile(ctx: ToolContext, absPath: string): { info?: ModuleInfo; bytes?: Uint8Array; err: number } {
  const file = kmodFileOpen(ctx, absPath)
  const bytes = file.bytes
  if (!bytes) return { err: file.err }
  try {
    return { info: readModule(bytes), bytes, err: 0 }
  } catch (e) {
    return { bytes, err: elfErrno(e instanceof ElfError ? e.code : undefined) }
  }
}

/** The sysroot's module database for one release: depmod's indexes and modprobe.d config. */
export class ModuleDb {
  private cache = new Map<string, Map<string, string[]> | undefined>()
  readonly config: ModprobeConfig

  constructor(
    readonly ctx: ToolContext,
    readonly dir: string,
    configPaths?: string[],
  ) {
    this.config = loadConfig(ctx, configPaths)
    // libkmod reads depmod's modules.softdep as one more config file
    try {
      parseFile(this.config, ctx.vfs.readText(`${dir}/modules.softdep`))
    } catch {
      // no modules.softdep: nothing to add
    }
  }

  /** The parsed index `name` (e.g. modules.dep.bin), or undefined when it is missing or unreadable. */
  index(name: string): Map<string, string[]> | undefined {
    if (!this.cache.has(name)) {
      let parsed: Map<string, string[]> | undefined
      try {
        parsed = readIndex(this.ctx.vfs.readFile(`${this.dir}/${name}`))
      } catch {
        parsed = undefined
      }
      this.cache.set(name, parsed)
    }
    return this.cache.get(name)
  }

  /** Module by exact name from modules.dep.bin, with its dependency paths. */
  fromDep(name: string): KmodModule | undefined {
    const line = this.index('modules.dep.bin')?.get(name)?.[0]
    if (line === undefined) return undefined
    return this.parseDepLine(name, line)
  }

  private parseDepLine(name: string, line: string): KmodModule {
    const colon = line.indexOf(':')
    const abs = (p: string) => (p.startsWith('/') ? p : `${this.dir}/${p}`)
    const deps = line
      .slice(colon + 1)
      .split(' ')
      .filter(Boolean)
      .map(abs)
    return { name, path: abs(line.slice(0, colon)), deps }
  }

  /** A module by name: modules.dep first, then modules.builtin; else a module without a file. */
  byName(name: string): KmodModule {
    const n = normalizeName(name)
    return this.fromDep(n) ?? (this.index('modules.builtin.bin')?.has(n) ? { name: n, builtin: true } : { name: n })
  }

  /**
   * kmod_module_new_from_lookup: config aliases, modules.dep, symbols, install/remove
   * commands, modules.alias, modules.builtin, in that order; the first that knows wins.
   */
  lookup(alias: string): KmodModule[] {
    const key = normalizeAlias(alias)
    const fromConfig = this.config.aliases.filter((a) => fnmatch(a.pattern, key))
    if (fromConfig.length) return fromConfig.map((a) => ({ ...this.byName(a.module), alias: key }))
    const dep = this.fromDep(key)
    if (dep) return [dep]
    if (key.startsWith('symbol:')) {
      const owners = this.index('modules.symbols.bin')?.get(key)
      if (owners?.length) return owners.map((m) => ({ ...this.byName(m), alias: key }))
    }
    if (this.config.install.has(key) || this.config.remove.has(key)) return [{ name: key }]
    const aliases = this.index('modules.alias.bin')
    if (aliases) {
      const found: KmodModule[] = []
      for (const [pattern, mods] of aliases) {
        if (!fnmatch(pattern, key)) continue
        for (const m of mods) if (!found.some((f) => f.name === m)) found.push({ ...this.byName(m), alias: key })
      }
      if (found.length) return found
    }
    if (this.index('modules.builtin.bin')?.has(key)) return [{ name: key, builtin: true }]
    return []
  }

  /** A module given by file path (modinfo FILE, modprobe /path, rmmod /path). */
  fromPath(path: string): KmodModule {
    const abs = abspath(this.ctx, path)
    const name = pathToModname(abs)
    const dep = this.fromDep(name)
    return { name, path: abs, deps: dep?.deps ?? [] }
  }

  /** kmod_module_get_dependencies: modules.dep's list, last first (the order they load in). */
  depsOf(mod: KmodModule): KmodModule[] {
    return [...(mod.deps ?? [])].reverse().map((p) => {
      const name = pathToModname(p)
      const entry = this.fromDep(name)
      return entry && entry.path === p ? entry : { name, path: p, deps: [] }
    })
  }
}

/** fnmatch(3) without flags, as kmod matches alias patterns. */
export function fnmatch(pattern: string, text: string): boolean {
  if (!/[*?[]/.test(pattern)) return pattern === text
  let re = '^'
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '*') re += '.*'
    else if (c === '?') re += '.'
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2)
      if (end < 0) {
        re += '\\['
        continue
      }
      let body = pattern.slice(i + 1, end)
      if (body.startsWith('!')) body = '^' + body.slice(1)
      re += '[' + body.replace(/\\/g, '\\\\') + ']'
      i = end
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&')
  }
  return new RegExp(re + '$', 's').test(text)
}
