/**
 * depmod.d as kmod 30's depmod reads it: `search`, `override`, `external` and `exclude`, from
 * every `.conf` of /etc, /run, /usr/local/lib and /lib's depmod.d (or `-C` paths), in name order.
 * Lists are built by prepending, as kmod's linked lists are: the order matters for priority.
 */
import type { ToolContext } from './context.js'
import { errno, strerror } from './errors.js'
import { configFiles } from './config.js'
import { freadlineWrapped } from './readline.js'

export type Search = { type: 'path'; path: string } | { type: 'builtin' } | { type: 'external' }

export interface DepmodConfig {
  /** Newest line first (kmod prepends); "updates" alone when no `search` line was given. */
  searches: Search[]
  /** `subdir/modname` paths without extension, newest first. */
  overrides: string[]
  /** External directories, newest first. */
  externals: string[]
  /** Directory (and file) names never descended into. */
  excludes: string[]
}

export const DEPMOD_CONFIG_DIRS = ['/etc/depmod.d', '/run/depmod.d', '/usr/local/lib/depmod.d', '/lib/depmod.d']

/** cfg_kernel_matches: "*", or a POSIX extended regex searched in the release. */
function kernelMatches(release: string, pattern: string): boolean {
  if (pattern === '*') return true
  try {
    return new RegExp(pattern).test(release)
  } catch {
    return false
  }
}

/**
 * Read depmod.d for `release`; `err` gets each ERR line's text (without "depmod: ERROR: ").
 * @example loadDepmodConfig(ctx, '6.1.0-56-amd64', undefined, (m) => ctx.err(`depmod: ERROR: ${m}\n`)).searches
 */
export function loadDepmodConfig(ctx: ToolContext, release: string, paths: string[] | undefined, err: (m: string) => void): DepmodConfig {
  const cfg: DepmodConfig = { searches: [], overrides: [], externals: [], excludes: [] }
  for (const file of configFiles(ctx, paths ?? DEPMOD_CONFIG_DIRS, ['.conf'], (path) => err(`Directories inside directories are not supported: ${path}`))) {
    let text: string
    try {
      text = ctx.vfs.readText(file)
    } catch (e) {
      err(`file parse ${file}: ${strerror(errno.ENOENT)}`)
      continue
    }
    parseDepmodConfig(cfg, text, file, release, err)
  }
  // backward compatibility: "updates" heads the list only when no `search` line was given
  if (cfg.searches.length === 0) cfg.searches.unshift({ type: 'path', path: 'updates' })
  return cfg
}

/** One file's lines, each split on blanks and tabs as strtok_r does. */
function parseDepmodConfig(cfg: DepmodConfig, text: string, file: string, release: string, err: (m: string) => void): void {
  for (const { text: line, linenum } of freadlineWrapped(text)) {
    if (line === '' || line.startsWith('#')) continue
    const words = line.split(/[\t ]+/).filter(Boolean)
    const cmd = words[0]
    if (cmd === undefined) continue
    const bad = () => err(`${file}:${linenum}: ignoring bad line starting with '${cmd}'`)
    if (cmd === 'search') {
      for (const w of words.slice(1))
        cfg.searches.unshift(w === 'built-in' ? { type: 'builtin' } : w === 'external' ? { type: 'external' } : { type: 'path', path: w })
    } else if (cmd === 'override') {
      const [, modname, version, subdir] = words
      if (modname === undefined || version === undefined || subdir === undefined) bad()
      else if (kernelMatches(release, version)) cfg.overrides.unshift(`${subdir}/${modname}`)
    } else if (cmd === 'external') {
      const [, version, dir] = words
      if (version === undefined || dir === undefined) bad()
      else if (kernelMatches(release, version)) cfg.externals.unshift(dir)
    } else if (cmd === 'exclude') {
      for (const w of words.slice(1)) cfg.excludes.unshift(w)
    } else if (cmd !== 'include' && cmd !== 'make_map_files') bad()
  }
}

/** should_exclude_dir: ".", "..", build, source and `exclude` names. */
export function excluded(cfg: DepmodConfig, name: string): boolean {
  return name === '.' || name === '..' || name === 'build' || name === 'source' || cfg.excludes.includes(name)
}

/** A module path cut after its name, without extension: `dir/modname` as kmod's lengths see it. */
function stem(path: string, modnameLen: number): string {
  return path.slice(0, path.lastIndexOf('/') + 1 + modnameLen)
}

const startsWithDir = (path: string, prefix: string) => path.length > prefix.length && path[prefix.length] === '/' && path.startsWith(prefix)

/**
 * depmod_module_is_higher_priority: true when the module already found at `oldPath` beats `newPath`
 * (overrides first, then the search list, where a later index wins; ties keep the first found).
 */
export function oldIsHigherPriority(cfg: DepmodConfig, dirname: string, oldPath: string, newPath: string, modnameLen: number): boolean {
  const rel = (p: string) => (p.startsWith(dirname) ? stem(p, modnameLen).slice(dirname.length + 1) : undefined)
  const relNew = rel(newPath)
  const relOld = rel(oldPath)
  for (const ov of cfg.overrides) {
    if (relNew === ov) return false
    if (relOld === ov) return true
  }
  const newStem = stem(newPath, modnameLen)
  const oldStem = stem(oldPath, modnameLen)
  let bprio = -1
  let oldprio = -1
  let newprio = -1
  let i = 0
  for (const se of cfg.searches) {
    if (se.type === 'builtin') bprio = i
    else if (se.type === 'external') {
      for (const ext of cfg.externals) {
        if (startsWithDir(newStem, ext)) newprio = i
        if (startsWithDir(oldStem, ext)) oldprio = i
        i++
      }
    } else if (relNew !== undefined && startsWithDir(relNew, se.path)) newprio = i
    else if (relOld !== undefined && startsWithDir(relOld, se.path)) oldprio = i
    i++
  }
  if (newprio < 0) newprio = bprio
  if (oldprio < 0) oldprio = bprio
  return newprio <= oldprio
}
