/**
 * The parts of libkmod the tools share: module names, the loaded-module state read from
 * /proc and /sys, and module lookup in /lib/modules/<release> through depmod's indexes.
 */
import { posix } from 'node:path'
import { readModule } from '../../elf/module.js'
import type { ModuleInfo } from '../../elf/types.js'
import { ElfError } from '../../elf/types.js'
import { elfErrno, errno, strerror } from './errors.js'
import { abspath, type ToolContext } from './context.js'
import { readIndex } from './index-bin.js'
import { kmodFileOpen } from './decompress.js'
import { loadConfig, underscores, type ModprobeConfig } from './config.js'
import { fnmatch } from './fnmatch.js'

export { fnmatch }

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

/**
 * kmod_module_get_initstate: built-in when the release's modules.builtin index names it (kmod asks
 * that before /sys/module), else /sys/module/<name>/initstate; a directory without it is "coming".
 */
export function initState(ctx: ToolContext, name: string, db?: ModuleDb): InitState | undefined {
  if (db?.isBuiltin(name)) return 'builtin'
  const state = ctx.kernel.readFile(`/sys/module/${name}/initstate`)
  if (state !== undefined) return state.trim() as InitState
  return ctx.kernel.listDir(`/sys/module/${name}`) !== undefined ? 'coming' : undefined
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
  /** modules.dep names a dependency file that is missing: every dependency query fails again. */
  depsFailed?: boolean
  /** For a built-in module: the release directory whose modules.builtin.modinfo describes it. */
  dir?: string
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

/** libkmod's ERR: file:line and function name, as the tool's logger or libkmod's own prints them. */
export type LibkmodLog = (file: string, line: number, fn: string, msg: string) => void

/** libkmod's default logger (before a tool installs its own): `libkmod: ERROR <file>:<line> <fn>: <msg>`. */
export const libkmodDefaultLog =
  (ctx: ToolContext): LibkmodLog =>
  (file, line, fn, msg) =>
    ctx.err(`libkmod: ERROR ../libkmod/${file}:${line} ${fn}: ${msg}\n`)

/** A tool's logger (log_setup_kmod_log): `<tool>: ERROR: <file>:<line> <fn>() <msg>`. */
export const libkmodToolLog =
  (ctx: ToolContext, tool: string): LibkmodLog =>
  (file, line, fn, msg) =>
    ctx.err(`${tool}: ERROR: ../libkmod/${file}:${line} ${fn}() ${msg}\n`)

/**
 * The heap address libkmod prints as its context pointer (`ctx=%p`): a real run prints a
 * different one each time, so no output can depend on it; the simulator prints this one.
 */
const CTX_POINTER = '0x55d5c0a0e2a0'

/** The sysroot's module database for one release: depmod's indexes and modprobe.d config (kmod_new). */
export class ModuleDb {
  private cache = new Map<string, Map<string, string[]> | undefined>()
  readonly config: ModprobeConfig
  /** Where libkmod's ERR lines go; a tool that sets up its logger replaces it. */
  log: LibkmodLog

  /** `configPaths`: modprobe -C paths; undefined for the default directories, [] for none (rmmod). */
  constructor(
    readonly ctx: ToolContext,
    readonly dir: string,
    configPaths?: string[],
  ) {
    this.log = libkmodDefaultLog(ctx)
    this.config = loadConfig(ctx, dir, configPaths)
    for (const line of this.config.errors) ctx.err(line)
  }

  /** The parsed index `name` (e.g. modules.dep.bin), or undefined when it is missing or unreadable. */
  index(name: string): Map<string, string[]> | undefined {
    if (!this.cache.has(name)) {
      let parsed: Map<string, string[]> | undefined
      try {
        // a missing index (the in-memory tree before depmod) is common: ask stat first rather than pay for the VfsError
        const path = `${this.dir}/${name}`
        parsed = this.ctx.vfs.stat(path)?.type === 'file' ? readIndex(this.ctx.vfs.readFile(path)) : undefined
      } catch {
        parsed = undefined
      }
      this.cache.set(name, parsed)
    }
    return this.cache.get(name)
  }

  /** kmod_lookup_alias_is_builtin: the name is a key of modules.builtin.bin. */
  isBuiltin(name: string): boolean {
    return this.index('modules.builtin.bin')?.has(name) ?? false
  }

  /** Module by exact name from modules.dep.bin, with its dependency paths. */
  fromDep(name: string): KmodModule | undefined {
    const line = this.index('modules.dep.bin')?.get(name)?.[0]
    if (line === undefined) return undefined
    return this.parseDepLine(name, line)
  }

  /**
   * kmod_module_parse_depline: the module's path and its dependencies' paths; a dependency file
   * that is missing fails the whole parse with libkmod's error line (and is tried again next time).
   */
  private parseDepLine(name: string, line: string): KmodModule {
    const colon = line.indexOf(':')
    const abs = (p: string) => (p.startsWith('/') ? p : `${this.dir}/${p}`)
    const path = abs(line.slice(0, colon))
    const deps: string[] = []
    for (const p of line
      .slice(colon + 1)
      .split(/[ \t]+/)
      .filter(Boolean)) {
      const dep = abs(p)
      if (!this.ctx.vfs.stat(dep)) {
        this.log('libkmod-module.c', 191, 'kmod_module_parse_depline', `ctx=${CTX_POINTER} path=${dep} error=${strerror(errno.ENOENT)}`)
        return { name, path, deps: [], depsFailed: true }
      }
      deps.push(dep)
    }
    return { name, path, deps }
  }

  /** A module by name: modules.dep first, then modules.builtin; else a module without a file. */
  byName(name: string): KmodModule {
    const n = modnameNormalize(name)
    return this.fromDep(n) ?? (this.isBuiltin(n) ? { name: n, builtin: true, dir: this.dir } : { name: n })
  }

  /** An alias index's modules for `key` (fnmatch patterns as keys), each once, in index order. */
  private fromAliasIndex(file: string, key: string): string[] {
    const found: string[] = []
    for (const [pattern, mods] of this.index(file) ?? []) {
      // As index_searchwild walks only the trie branches the key reaches: the pattern's literal head first.
      if (!key.startsWith(literalHead(pattern)) || !fnmatch(pattern, key)) continue
      for (const m of mods) if (!found.includes(m)) found.push(m)
    }
    return found
  }

  /**
   * kmod_module_new_from_lookup: config aliases, modules.dep, symbols, install/remove commands,
   * modules.alias, modules.builtin, modules.builtin.alias, in that order; the first that knows wins.
   */
  lookup(alias: string): KmodModule[] {
    const key = underscores(alias)
    if (key === undefined) return []
    const fromConfig = this.config.aliases.filter((a) => fnmatch(a.pattern, key))
    if (fromConfig.length) return fromConfig.map((a) => ({ ...this.byName(a.module), alias: key }))
    const dep = this.fromDep(key)
    if (dep) return [dep]
    if (key.startsWith('symbol:')) {
      const owners = this.fromAliasIndex('modules.symbols.bin', key)
      if (owners.length) return owners.map((m) => ({ ...this.byName(m), alias: key }))
    }
    const cmd = this.config.install.find((c) => c.module === key) ?? this.config.remove.find((c) => c.module === key)
    if (cmd) return [{ name: key }]
    const aliased = this.fromAliasIndex('modules.alias.bin', key)
    if (aliased.length) return aliased.map((m) => ({ ...this.byName(m), alias: key }))
    if (this.isBuiltin(key)) return [{ name: key, builtin: true, dir: this.dir }]
    return this.fromAliasIndex('modules.builtin.alias.bin', key).map((m) => ({ name: m, alias: key, builtin: true, dir: this.dir }))
  }

  /** A module given by file path (modinfo FILE, rmmod /path). */
  fromPath(path: string): KmodModule {
    const abs = abspath(this.ctx, path)
    const name = pathToModname(abs)
    const dep = this.fromDep(name)
    return { name, path: abs, deps: dep?.deps ?? [] }
  }

  /**
   * kmod_module_get_dependencies: modules.dep's list, last first (the order they load in). A
   * module whose line failed to parse is parsed again, and fails again, as libkmod does.
   */
  depsOf(mod: KmodModule): KmodModule[] {
    let deps = mod.deps ?? []
    if (mod.depsFailed) deps = this.fromDep(mod.name)?.deps ?? []
    return [...deps].reverse().map((p) => {
      const name = pathToModname(p)
      const entry = this.fromDep(name)
      return entry && entry.path === p ? entry : { name, path: p, deps: [] }
    })
  }
}

/** A pattern's text before its first wildcard: a key that does not start with it cannot match. */
function literalHead(pattern: string): string {
  const at = pattern.search(/[*?[]/)
  return at < 0 ? pattern : pattern.slice(0, at)
}

/** modname_normalize: '-' → '_', cut at the first '.' (so "x.ko" names x; no basename is taken). */
export function modnameNormalize(name: string): string {
  const dot = name.indexOf('.')
  return (dot < 0 ? name : name.slice(0, dot)).replace(/-/g, '_')
}
