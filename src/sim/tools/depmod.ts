/**
 * kmod 30's depmod: scan /lib/modules/<release>, resolve each module's undefined symbols
 * against the others' exports, and write modules.dep, .alias, .softdep, .symbols, .devname
 * and the binary indexes, in kmod's order and format.
 */
import { KmodAbort, KmodElf, kmodElfNew } from '../../elf/kmod.js'
import { abspath, type Tool, type ToolContext } from './context.js'
import { errno, strerror } from './errors.js'
import { parseToolOptions } from './getopt.js'
import { IndexWriter } from './index-bin.js'
import { kmodHashOrder } from './kmod-hash.js'
import { kmodFileOpen } from './decompress.js'
import { excluded, loadDepmodConfig, oldIsHigherPriority, type DepmodConfig } from './depmod-config.js'
import { underscores } from './config.js'
import { hasModuleExt, pathToModname } from './kmodlib.js'
import { factsToRead, loadFacts, prefetchFacts, type DepmodFacts } from './depmod-facts.js'
import { FactsCache } from './depmod-cache.js'
import { startFactsPool, type FactsPool } from './depmod-pool.js'
import type { VfsStat } from '../vfs.js'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'

interface Mod {
  name: string
  path: string
  /** Path under the release's directory; undefined for a module of an `external` directory outside it. */
  relpath?: string
  facts?: DepmodFacts
  sortIdx: number
  depSortIdx: number
  idx: number
  users: number
  deps: Mod[]
  /** Seen by the cycle report's walk (kmod keeps it across roots). */
  visited: boolean
  /** The idx of the last module found to depend on this one, or of the last whose dependencies' closure holds it (-1: none): a mark instead of a search of a list. */
  user: number
  inClosureOf: number
}

const LONGS = [
  ['all', 'a'],
  ['quick', 'A'],
  ['basedir', 'b', 1],
  ['config', 'C', 1],
  ['symvers', 'E', 1],
  ['filesyms', 'F', 1],
  ['errsyms', 'e'],
  ['unresolved-error', 'u'],
  ['quiet', 'q'],
  ['root', 'r'],
  ['verbose', 'v'],
  ['show', 'n'],
  ['dry-run', 'n'],
  ['symbol-prefix', 'P', 1],
  ['warn', 'w'],
  ['map', 'm'],
  ['version', 'V'],
  ['help', 'h'],
].map(([name, val, arg]) => ({ name: name as string, val: val as string, hasArg: arg === 1 }))

/** modules.order's size (bytes) from which a tree is large enough for a helper thread from the start (400 modules of about 30 bytes). */
const LARGE_ORDER = 12_000

/** depmod's options as kmod 30 declares them (getopt_long's short string and long table); the qemu backend parses with them too. */
export const depmodOptions = { short: 'aAb:C:E:F:euqrvnP:wmVh', longs: LONGS }

/** Every module file under `dir` (absolute paths), skipping excluded names, in readdir order; `stats` gets each one's stat. */
function scan(ctx: ToolContext, dir: string, cfg: Pick<DepmodConfig, 'excludes'> = { excludes: [] }, stats?: Map<string, VfsStat>): string[] {
  const found: string[] = []
  // a sysroot's directory (its host path differs from its own): the whole tree is on the host, walked there
  const host = ctx.vfs.hostPath(dir)
  if (host !== undefined && host !== dir) {
    scanHost(host, dir, cfg, found, stats)
    return found
  }
  for (const name of ctx.vfs.readdir(dir)) {
    if (excluded(cfg as DepmodConfig, name)) continue
    const path = `${dir}/${name}`
    const st = ctx.vfs.stat(path)
    if (st?.type === 'dir') found.push(...scan(ctx, path, cfg, stats))
    else if (st?.type === 'file' && hasModuleExt(name)) {
      found.push(path)
      stats?.set(path, st)
    }
  }
  return found
}

/** The VFS's hostPath, answered without asking it for the files of a sysroot's tree `dir` (see scan()). */
function hostPaths(ctx: ToolContext, dir: string): (abs: string) => string | undefined {
  const host = ctx.vfs.hostPath(dir)
  if (host === undefined || host === dir) return (abs) => ctx.vfs.hostPath(abs)
  return (abs) => (abs.startsWith(dir + '/') ? host + abs.slice(dir.length) : ctx.vfs.hostPath(abs))
}

/** scan() of a host directory `host` seen as `dir`: readdir's entry types spare a stat of each subdirectory. */
function scanHost(host: string, dir: string, cfg: Pick<DepmodConfig, 'excludes'>, found: string[], stats?: Map<string, VfsStat>): void {
  let entries: fs.Dirent[]
  try {
    entries = fs.readdirSync(host, { withFileTypes: true })
  } catch {
    return
  }
  for (const e of entries) {
    const name = e.name
    if (excluded(cfg as DepmodConfig, name)) continue
    let isDir = e.isDirectory()
    // a file needs its stamp anyway; a link or an unknown type is followed, as the VFS's stat follows it
    if (!isDir && !(e.isFile() && hasModuleExt(name))) {
      if (!e.isSymbolicLink() && e.isFile()) continue
      const st = statHost(`${host}/${name}`)
      if (!st) continue
      isDir = st.type === 'dir'
    }
    if (isDir) {
      scanHost(`${host}/${name}`, `${dir}/${name}`, cfg, found, stats)
      continue
    }
    if (!hasModuleExt(name)) continue
    // no stats wanted (the reading stamps each file): a regular file needs no stat to be known as one
    if (!stats && e.isFile()) {
      found.push(`${dir}/${name}`)
      continue
    }
    const st = statHost(`${host}/${name}`)
    if (st?.type !== 'file') continue
    found.push(`${dir}/${name}`)
    stats?.set(`${dir}/${name}`, st)
  }
}

/** The VFS's stat of a host file: a directory, else a file (links followed); undefined when it cannot be stat'ed. */
function statHost(path: string): VfsStat | undefined {
  try {
    const st = fs.statSync(path, { throwIfNoEntry: false })
    if (!st) return undefined
    return st.isDirectory() ? { type: 'dir', size: 0, mtimeMs: st.mtimeMs } : { type: 'file', size: st.size, mtimeMs: st.mtimeMs }
  } catch {
    return undefined
  }
}

function upToDate(ctx: ToolContext, dir: string): boolean {
  const dep = ctx.vfs.stat(`${dir}/modules.dep`)
  if (!dep) return false
  // kmod compares st_mtime: whole seconds
  const sec = (ms: number) => Math.floor(ms / 1000)
  return scan(ctx, dir).every((p) => sec(ctx.vfs.stat(p)?.mtimeMs ?? 0) <= sec(dep.mtimeMs))
}

export const depmod: Tool = (outer, argv) => {
  const started: FactsPool[] = []
  try {
    return run(outer, argv, started)
  } finally {
    // a helper thread left waiting (an early return or a throw before the reading) is stopped
    for (const pool of started) pool.stop()
  }
}

function run(outer: ToolContext, argv: string[], started: FactsPool[]): number {
  // a run that printed nothing leaves its output files for the next run with the same inputs (FactsCache.memo)
  let spoke = false
  const ctx: ToolContext = { ...outer, out: (t) => ((spoke = true), outer.out(t)), err: (t) => ((spoke = true), outer.err(t)) }
  const parsed = parseToolOptions((text) => ctx.err(text), argv[0] ?? 'depmod', argv.slice(1), depmodOptions.short, depmodOptions.longs)
  if (typeof parsed === 'number') return parsed
  let root = ''
  let quick = false
  let toStdout = false
  let warnDups = false
  let verbose = 0
  let printUnknown = false
  let symvers: string | undefined
  let systemMap: string | undefined
  let prefix = ''
  const configPaths: string[] = []
  for (const { opt, arg, long } of parsed.opts) {
    if (opt === 'b') root = abspath(ctx, arg!)
    else if (opt === 'C') configPaths.push(arg!)
    else if (opt === 'A') quick = true
    else if (opt === 'n') toStdout = true
    else if (opt === 'w') warnDups = true
    else if (opt === 'v') verbose++
    else if (opt === 'e') printUnknown = true
    else if (opt === 'E') symvers = arg
    else if (opt === 'F') systemMap = arg
    else if (opt === 'P') {
      if (arg!.length !== 1) {
        ctx.err('depmod: FATAL: -P only takes a single char\n')
        return 1
      }
      prefix = arg!
    } else if ('uqrm'.includes(opt)) ctx.err(`depmod: WARNING: Ignored deprecated option ${long ? `--${long}` : `-${opt}`}\n`)
    else if (opt === 'h') {
      ctx.out(`Usage:\n\tdepmod -[aA] [options] [forced_version]\n`)
      return 0
    } else if (opt === 'V') {
      ctx.out('kmod version 30\n+ZSTD +XZ -ZLIB +LIBCRYPTO -EXPERIMENTAL\n')
      return 0
    }
  }
  let release = ctx.release
  const operands = [...parsed.operands]
  if (operands.length) {
    // is_version_number: sscanf("%u.%u") must read two numbers
    if (!/^\s*\+?\d+\.\s*\+?\d+/.test(operands[0]!)) {
      ctx.err(`depmod: ERROR: Bad version passed ${operands[0]}\n`)
      return 1
    }
    release = operands.shift()!
  }
  const dir = `${root}/lib/modules/${release}`
  if (quick && toStdout) return 0
  if (quick && upToDate(ctx, dir)) return 0
  const warn = (msg: string) => ctx.err(`depmod: WARNING: ${msg}\n`)

  const strip = (name: string) => (prefix && name.startsWith(prefix) ? name.slice(1) : name)
  const symbols = new Map<string, { owner?: Mod; crc: number }>()
  const kernelSyms = symvers !== undefined ? loadSymvers(ctx, symvers) : systemMap !== undefined ? loadSystemMap(ctx, systemMap, prefix) : undefined
  if (kernelSyms === 'missing') {
    ctx.err(`depmod: FATAL: could not load ${symvers ?? systemMap}: ${strerror(errno.ENOENT)}\n`)
    return 1
  }
  if (kernelSyms) for (const [name, crc] of kernelSyms) symbols.set(name, { crc })
  if (printUnknown && !kernelSyms) {
    warn('-e needs -E or -F')
    printUnknown = false
  }
  if (ctx.vfs.stat(dir)?.type !== 'dir') {
    ctx.err(`depmod: ERROR: could not open directory ${dir}: ${strerror(errno.ENOENT)}\n`)
    ctx.err(`depmod: FATAL: could not search modules: ${strerror(errno.ENOENT)}\n`)
    return 1
  }
  // module files named on the command line: only they are indexed, and depmod.d is not read
  const all = operands.length === 0
  const cfg = all
    ? loadDepmodConfig(ctx, release, configPaths.length ? configPaths : undefined, (m) => ctx.err(`depmod: ERROR: ${m}\n`))
    : { searches: [], overrides: [], externals: [], excludes: [] }
  // modules by name; a second file with the same name replaces the first only with a higher priority
  const byName = new Map<string, Mod>()
  const add = (path: string) => {
    const name = pathToModname(path)
    const old = byName.get(name)
    if (old && oldIsHigherPriority(cfg, dir, old.path, path, name.length)) return
    const relpath = path.startsWith(dir + '/') ? path.slice(dir.length + 1) : undefined
    byName.set(name, {
      name,
      path,
      relpath,
      sortIdx: 1,
      depSortIdx: Number.MAX_SAFE_INTEGER,
      idx: 0,
      users: 0,
      deps: [],
      visited: false,
      user: -1,
      inClosureOf: -1,
    })
  }
  for (const path of operands) {
    if (!path.startsWith('/')) {
      ctx.err(`depmod: FATAL: ${path}: not absolute path.\n`)
      return 1
    }
    if (!ctx.vfs.stat(path)) {
      ctx.err(`depmod: FATAL: could not create module ${path}: ${strerror(errno.ENOENT)}\n`)
      return 1
    }
    add(path)
  }
  // only a tree on the host is cached (one in memory is read from memory anyway)
  const treeHost = ctx.vfs.hostPath(dir)
  const cache = treeHost !== undefined ? new FactsCache(treeHost) : undefined
  // nothing cached yet on a large tree (its modules.order lists hundreds of modules): every file will be read,
  // so the helper thread starts now, ready when the reading starts
  const pool = cache?.empty && (ctx.vfs.stat(`${dir}/modules.order`)?.size ?? 0) >= LARGE_ORDER ? startFactsPool() : undefined
  if (pool) started.push(pool)
  const stats = new Map<string, VfsStat>()
  // nothing cached: every file is read, and stamped by the reading (fstat of the open file, no stat of its path)
  const stampByReading = cache?.empty === true
  if (all) for (const path of scan(ctx, dir, cfg, stampByReading ? undefined : stats)) add(path)
  // an external directory that is missing is skipped silently
  for (const ext of cfg.externals) {
    const st = ctx.vfs.stat(ext)
    if (st?.type !== 'dir') {
      ctx.err(`depmod: ERROR: could not open directory ${ext}: ${strerror(st ? errno.ENOTDIR : errno.ENOENT)}\n`)
      continue
    }
    for (const path of scan(ctx, ext, cfg, stats)) add(path)
  }
  // nothing cached: every file is to be read, and the helper starts on them now, while the modules are sorted
  const hostOf = hostPaths(ctx, dir)
  const paths = [...byName.values()].map((m) => m.path)
  let jobs = cache && stampByReading ? factsToRead(ctx, paths, cache, stats, hostOf) : undefined
  if (jobs) pool?.post(jobs)
  let mods = kmodHashOrder(byName.keys(), 512).map((n) => byName.get(n)!)
  mods = sortByOrderFile(ctx, dir, mods, byName, warn)
  mods.forEach((m, i) => (m.idx = i))
  const memoable = cache && all && !toStdout && !verbose && !printUnknown && !kernelSyms && !spoke
  // nothing cached (so no outputs kept either): the key is only needed once the reading has stamped every file
  let memoKey = memoable && !stampByReading ? inputsKey(ctx, argv, dir, cfg, mods, stats) : undefined
  const replay = memoKey !== undefined ? cache!.memo(memoKey) : undefined
  if (replay) {
    pool?.stop()
    for (const [name, kept] of replay) {
      const out = `${dir}/${name}`
      const host = ctx.vfs.hostPath(out)
      // a sysroot's file (see scan()) becomes a link to the kept one; anything else (or a failed link) is written through the VFS
      if (host !== undefined && host !== out) {
        try {
          fs.rmSync(host, { force: true })
          fs.linkSync(kept, host)
          continue
        } catch {
          // written below, with the VFS's errors
        }
      }
      ctx.vfs.writeFile(out, fs.readFileSync(kept))
    }
    return 0
  }
  // else the cache is asked only now: a run that replays its last outputs never reads it
  jobs ??= cache ? factsToRead(ctx, paths, cache, stats, hostOf) : undefined
  if (cache && jobs) prefetchFacts(ctx, jobs, cache, stats, pool)
  if (memoable && stampByReading) memoKey = inputsKey(ctx, argv, dir, cfg, mods, stats)
  // depmod_load_modules(): libkmod's reading gives the symbols and the errno text, or aborts depmod on an assert().
  for (const m of mods) {
    const got = loadFacts(ctx, m.path, cache, stats.get(m.path), hostOf)
    if (got instanceof KmodAbort) {
      ctx.err(got.message('depmod'))
      return 134
    }
    const err = typeof got === 'number' ? got : got.err
    if (err < 0 && err !== -errno.ENOENT) ctx.err(`depmod: ERROR: failed to load symbols from ${m.path}: ${strerror(err)}\n`)
    if (typeof got !== 'number') m.facts = got
  }
  cache?.save()
  // the symbol table: the kernel's (-E Module.symvers, -F System.map) first, then every module's
  // exports in array order; a later entry replaces an earlier one, as kmod's hash_add does
  const crcs = symvers !== undefined ? (m: Mod) => moduleCrcs(ctx, m) : () => undefined
  const owners = new Map<string, Mod>()
  // the plain `depmod -a`: no kernel symbols, CRCs, prefix or reports, so only the owners matter
  if (!kernelSyms && symvers === undefined && !prefix && !printUnknown && !verbose) resolvePlain(mods, owners)
  else {
    for (const m of mods) {
      const exportCrcs = crcs(m)?.exports
      for (const e of m.facts?.exports ?? []) symbols.set(strip(e), { owner: m, crc: exportCrcs?.get(e) ?? 0 })
    }
    for (const [name, s] of symbols) if (s.owner) owners.set(name, s.owner)
    for (const m of mods) {
      // kmod_module_get_dependency_symbols: a symbol table it cannot read gives no dependencies, silently
      if (!m.facts) continue
      const { needs, weak: weakAt } = m.facts
      const weakSet = weakAt.length ? new Set(weakAt) : undefined
      const depCrcs = crcs(m)?.deps
      for (let i = 0; i < needs.length; i++) {
        const name = needs[i]!
        if (!name) continue
        const weak = weakSet?.has(i) ?? false
        const sym = symbols.get(strip(name.startsWith('.') ? name.slice(1) : name))
        if (!sym) {
          if (printUnknown && !weak) warn(`${m.path} needs unknown symbol ${name}`)
          continue
        }
        if (symvers !== undefined && sym.crc !== (depCrcs?.get(name) ?? 0) && !weak && printUnknown) warn(`${m.path} disagrees about version of symbol ${name}`)
        const owner = sym.owner
        if (!owner || m.deps.includes(owner)) continue
        m.deps.push(owner)
        owner.users++
        if (verbose > 0) ctx.out(`${m.path} needs "${name}": ${owner.path}\n`)
      }
    }
  }
  if (!topoSort(mods, (m) => ctx.err(`depmod: ERROR: ${m}\n`))) return 1
  const files = render(mods, owners, dir, ctx, warn, toStdout)
  if (toStdout) {
    ctx.out(
      files
        .filter(([, , text]) => text)
        .map(([, , text]) => text as string)
        .join(''),
    )
    return 0
  }
  // as kmod writes them: each a new file renamed over the old one
  for (const [name, data] of files) ctx.vfs.replaceFile(`${dir}/${name}`, data)
  if (memoKey !== undefined && !spoke)
    cache!.setMemo(
      memoKey,
      files.map(([name, data]) => {
        const host = ctx.vfs.hostPath(`${dir}/${name}`)
        // a sysroot's file (see scan()) is the one just written; an in-memory tree's is not on the host
        return [name, data, host !== undefined && host !== `${dir}/${name}` ? host : undefined]
      }),
    )
  void warnDups
  return 0
}

/**
 * The symbol table and dependencies of a plain `depmod -a`, as the general loop in depmod() makes them: each
 * export's owner is the last module exporting it (at its first exporter's place in `owners`), and a module
 * depends on the owner of each symbol it needs (a leading '.' dropped), each owner once, in order.
 */
function resolvePlain(mods: Mod[], owners: Map<string, Mod>): void {
  for (const m of mods) for (const e of m.facts?.exports ?? []) owners.set(e, m)
  for (const m of mods) {
    const needs = m.facts?.needs
    if (!needs) continue
    for (const name of needs) {
      if (!name) continue
      const owner = owners.get(name.charCodeAt(0) === 0x2e ? name.slice(1) : name)
      // each owner once (a module needs hundreds of symbols from a few owners)
      if (!owner || owner.user === m.idx) continue
      owner.user = m.idx
      m.deps.push(owner)
      owner.users++
    }
  }
}

/**
 * A digest of everything a plain `depmod -a` reads: its arguments, configuration, each module's path, size
 * and mtime (the facts cache's key), and modules.order and the built-in lists by size and mtime; undefined
 * when a module is not a host file (nothing to stamp it by).
 */
function inputsKey(ctx: ToolContext, argv: string[], dir: string, cfg: DepmodConfig, mods: Mod[], stats: Map<string, VfsStat>): string | undefined {
  const h = createHash('sha256')
  h.update(JSON.stringify([argv, ctx.release, dir, cfg]))
  // a sysroot's tree is all on the host (see scan()): only modules from elsewhere need asking
  const host = ctx.vfs.hostPath(dir)
  const onHost = host !== undefined && host !== dir
  // fed in pieces of about 64 KB: the digest is that of the whole text, one call per module costs more
  let piece = ''
  for (const m of mods) {
    const st = stats.get(m.path)
    if (!st || (!(onHost && m.relpath !== undefined) && ctx.vfs.hostPath(m.path) === undefined)) return undefined
    piece += `\0${m.path}\0${st.size}\0${st.mtimeMs}`
    if (piece.length > 1 << 16) {
      h.update(piece)
      piece = ''
    }
  }
  h.update(piece)
  for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) {
    const st = ctx.vfs.stat(`${dir}/${f}`)
    h.update(`\0${f}\0${st ? `${st.type} ${st.size} ${st.mtimeMs}` : '-'}`)
  }
  return h.digest('hex')
}

function sortByOrderFile(ctx: ToolContext, dir: string, mods: Mod[], byName: Map<string, Mod>, warn: (m: string) => void): Mod[] {
  let text: string
  try {
    text = ctx.vfs.readText(`${dir}/modules.order`)
  } catch {
    warn(`could not open modules.order at ${dir}: ${strerror(errno.ENOENT)}`)
    return mods
  }
  // modules.order names the uncompressed file: relpath cut after "<name>.ko"
  const uncrel = (m: Mod) => m.relpath!.slice(0, m.relpath!.lastIndexOf('/') + 1 + m.name.length + 3)
  const byRel = new Map([...byName.values()].filter((m) => m.relpath !== undefined).map((m) => [uncrel(m), m]))
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  const total = lines.length + 1
  lines.forEach((line, i) => {
    const m = byRel.get(line)
    if (m) m.sortIdx = i + 1 - total
  })
  // glibc's qsort is a stable merge sort here, and each listed module's sortIdx is its own line's (the last
  // naming it): the listed modules in line order, then the others (sortIdx 1) in the order they came
  const byLine = new Array<Mod | undefined>(total)
  for (const m of mods) if (m.sortIdx <= 0) byLine[m.sortIdx + total - 1] = m
  const sorted: Mod[] = []
  for (const m of byLine) if (m) sorted.push(m)
  for (const m of mods) if (m.sortIdx > 0) sorted.push(m)
  return sorted
}

/**
 * Kahn's sort as depmod does it: modules nobody uses first, a stack of roots. On a cycle, report
 * it as kmod 30 does and return false (depmod then writes nothing and exits 1).
 */
function topoSort(mods: Mod[], error: (m: string) => void): boolean {
  const users = mods.map((m) => m.users)
  const roots = mods.filter((m) => m.users === 0).map((m) => m.idx)
  let sorted = 0
  while (roots.length) {
    const src = mods[roots.pop()!]!
    src.depSortIdx = sorted++
    for (const dst of src.deps) {
      if (--users[dst.idx]! === 0) roots.push(dst.idx)
    }
  }
  if (sorted < mods.length) {
    reportCycles(
      mods.filter((m) => users[m.idx]! > 0),
      error,
    )
    return false
  }
  for (const m of mods) m.deps.sort((a, b) => a.depSortIdx - b.depSortIdx)
  return true
}

interface Vertex {
  mod: Mod
  parent?: Vertex
}

/** depmod_report_cycles: a depth-first walk from each module left over, printing each cycle that closes on its root. */
function reportCycles(left: Mod[], error: (m: string) => void): void {
  // kmod's lists are rings, and removing an entry makes the one after it the list's head
  let roots = [...left]
  const loopSet = new Set<string>()
  const remove = (m: Mod) => {
    const i = roots.indexOf(m)
    if (i >= 0) roots = [...roots.slice(i + 1), ...roots.slice(0, i)]
  }
  while (roots.length) {
    const root = roots[0]!
    remove(root)
    const stack: Vertex[] = [{ mod: root }]
    while (stack.length) {
      const vertex = stack.pop()!
      const m = vertex.mod
      if (m.visited && m === root) {
        const chain: Mod[] = []
        for (let v = vertex.parent; v; v = v.parent) {
          chain.push(v.mod)
          loopSet.add(v.mod.name)
        }
        chain.reverse().forEach(remove)
        error(`Cycle detected: ${[...chain, m].map((x) => x.name).join(' -> ')}`)
        continue
      }
      m.visited = true
      if (m.deps.length === 0) {
        remove(m)
        continue
      }
      // kmod's stack holds as many vertices as there are modules left; it asserts past that
      if (stack.length + m.deps.length > left.length) return
      for (const dep of m.deps) stack.push({ mod: dep, parent: vertex })
    }
  }
  error(`Found ${loopSet.size} modules in dependency cycles!`)
}

/** Every module `m` depends on, directly or not, in depSortIdx order. */
function allDeps(m: Mod): Mod[] {
  const seen: Mod[] = []
  const fill = (x: Mod) => {
    for (const d of x.deps) {
      if (d.inClosureOf === m.idx) continue
      d.inClosureOf = m.idx
      seen.push(d)
      fill(d)
    }
  }
  fill(m)
  return seen.length > 1 ? seen.sort((a, b) => a.depSortIdx - b.depSortIdx) : seen
}

type File = [name: string, data: Uint8Array | string, text?: string]

function render(mods: Mod[], owners: Map<string, Mod>, dir: string, ctx: ToolContext, warn: (m: string) => void, toStdout: boolean): File[] {
  const live = mods
  const shown = (m: Mod) => m.relpath ?? m.path
  let dep = ''
  const depBin = new IndexWriter()
  for (const m of live) {
    const line = `${shown(m)}:${allDeps(m)
      .map((d) => ' ' + shown(d))
      .join('')}`
    dep += line + '\n'
    depBin.insert(m.name, line, m.idx)
  }
  // each index written as soon as it is filled, so only one trie is alive at a time (peak memory)
  const depBinBytes = depBin.write()
  let alias = '# Aliases extracted from modules themselves.\n'
  const aliasBin = new IndexWriter()
  let softdep = '# Soft dependencies extracted from modules themselves.\n'
  let devname = ''
  for (const m of mods) {
    const aliases = m.facts?.aliases ?? []
    for (const value of aliases) {
      alias += `alias ${value} ${m.name}\n`
      // most aliases have nothing underscores() changes or rejects
      const key2 = /[-[\]]/.test(value) ? underscores(value) : value
      if (key2 !== undefined) aliasBin.insert(key2, m.name, m.idx)
    }
    for (const value of m.facts?.softdeps ?? []) softdep += `softdep ${m.name} ${value}\n`
    devname += devnameLine(m.name, aliases)
  }
  // kmod writes the devname header only above a first entry
  if (devname) devname = '# Device nodes to trigger on-demand module loading.\n' + devname
  const aliasBinBytes = aliasBin.write()
  let symbols = '# Aliases for symbols, used by symbol_request().\n'
  const symBin = new IndexWriter()
  for (const name of kmodHashOrder(owners.keys(), 2048)) {
    const owner = owners.get(name)!
    symbols += `alias symbol:${name} ${owner.name}\n`
    symBin.insert(`symbol:${name}`, owner.name, owner.idx)
  }
  const files: File[] = [
    ['modules.dep', dep, dep],
    ['modules.dep.bin', depBinBytes],
    ['modules.alias', alias, alias],
    ['modules.alias.bin', aliasBinBytes],
    ['modules.softdep', softdep, softdep],
    ['modules.symbols', symbols, symbols],
    ['modules.symbols.bin', symBin.write()],
  ]
  if (!toStdout) {
    files.push(['modules.builtin.bin', builtinIndex(ctx, dir, warn)])
    files.push(['modules.builtin.alias.bin', builtinAliasIndex(ctx, dir, warn)])
  }
  files.push(['modules.devname', devname, devname])
  return files
}

/** The files `depmod -a` writes into the release's directory, as `ls` sorts them. */
export const DEPMOD_OUTPUTS: readonly string[] = [
  'modules.alias',
  'modules.alias.bin',
  'modules.builtin.alias.bin',
  'modules.builtin.bin',
  'modules.dep',
  'modules.dep.bin',
  'modules.devname',
  'modules.softdep',
  'modules.symbols',
  'modules.symbols.bin',
]

function devnameLine(name: string, aliases: string[]): string {
  let devname: string | undefined
  let type = ''
  let major = 0
  let minor = 0
  for (const value of aliases) {
    // most aliases (pci:, usb:, of:, acpi*:) name no device node: only d..., c... and b... can
    const c = value.charCodeAt(0)
    if (c !== 0x64 && c !== 0x63 && c !== 0x62) continue
    let m: RegExpMatchArray | null
    if (value.startsWith('devname:')) devname = value.slice(8)
    else if ((m = value.match(/^char-major-(\d+)-(\d+)/))) [type, major, minor] = ['c', Number(m[1]), Number(m[2])]
    else if ((m = value.match(/^block-major-(\d+)-(\d+)/))) [type, major, minor] = ['b', Number(m[1]), Number(m[2])]
    if (type && devname !== undefined) return `${name} ${devname} ${type}${major}:${minor}\n`
  }
  return ''
}

function builtinIndex(ctx: ToolContext, dir: string, warn: (m: string) => void): Uint8Array {
  const idx = new IndexWriter()
  let text: string
  try {
    text = ctx.vfs.readText(`${dir}/modules.builtin`)
  } catch {
    warn(`could not open modules.builtin at ${dir}: ${strerror(errno.ENOENT)}`)
    return new Uint8Array()
  }
  for (const line of text.split('\n')) if (/^[A-Za-z]/.test(line)) idx.insert(pathToModname(line), '', 0)
  return idx.write()
}

function builtinAliasIndex(ctx: ToolContext, dir: string, warn: (m: string) => void): Uint8Array {
  const idx = new IndexWriter()
  let text: string
  try {
    text = ctx.vfs.readText(`${dir}/modules.builtin.modinfo`)
  } catch {
    warn(`could not open modules.builtin.modinfo at ${dir}: ${strerror(errno.ENOENT)}`)
    return new Uint8Array()
  }
  for (const entry of text.split('\0')) {
    const m = entry.match(/^([^.=]+)\.alias=(.*)$/s)
    if (m) idx.insert(underscores(m[2]!) ?? m[2]!, m[1]!, 0)
  }
  return idx.write()
}

/** The kernel's fake symbols depmod adds after Module.symvers or System.map. */
const FAKE_SYMS = ['__this_module', '_GLOBAL_OFFSET_TABLE_', 'TOC.']

/** depmod_load_symvers: `crc\tsymbol\tvmlinux...` lines (other owners skipped), then the fake symbols. */
function loadSymvers(ctx: ToolContext, file: string): Map<string, number> | 'missing' {
  let text: string
  try {
    text = ctx.vfs.readText(abspath(ctx, file))
  } catch {
    return 'missing'
  }
  const out = new Map<string, number>()
  text.split('\n').forEach((line, i) => {
    const [ver, sym, where] = line.split(/[ \t]+/).filter(Boolean)
    if (!ver || !sym || !where || where !== 'vmlinux') return
    const crc = /^\s*(0[xX])?[0-9a-fA-F]+$/.test(ver) ? Number.parseInt(ver, 16) : Number.NaN
    // %m prints errno, still ENOENT from libkmod's failed probe of an index file (as kmod 30 on Debian prints)
    if (Number.isNaN(crc)) {
      ctx.err(`depmod: ERROR: ${file}:${i + 1} Invalid symbol version ${ver}: ${strerror(errno.ENOENT)}\n`)
      return
    }
    out.set(sym, crc >>> 0)
  })
  for (const f of FAKE_SYMS) out.set(f, 0)
  return out
}

/** depmod_load_system_map: the `__ksymtab_<name>` entries of a System.map, then the fake symbols. */
function loadSystemMap(ctx: ToolContext, file: string, prefix: string): Map<string, number> | 'missing' {
  let text: string
  try {
    text = ctx.vfs.readText(abspath(ctx, file))
  } catch {
    return 'missing'
  }
  const out = new Map<string, number>()
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  lines.forEach((line, i) => {
    const m = /^[^ ]* [^ ]* (.*)$/s.exec(line)
    if (!m) {
      // fgets kept the line's newline, and kmod prints the line as read
      ctx.err(`depmod: ERROR: ${file}:${i + 1}: invalid line: ${line}${i < lines.length - 1 || text.endsWith('\n') ? '\n' : ''}\n`)
      return
    }
    let name = m[1]!
    if (prefix && name.startsWith(prefix)) name = name.slice(1)
    if (name.startsWith('__ksymtab_')) out.set(name.slice(10), 0)
  })
  for (const f of FAKE_SYMS) out.set(f, 0)
  return out
}

/** The CRCs libkmod reads with a module's symbols: its exports' `__crc_` values and its `__versions`. */
function moduleCrcs(ctx: ToolContext, m: Mod): { exports: Map<string, number>; deps: Map<string, number> } | undefined {
  const bytes = kmodFileOpen(ctx, m.path).bytes
  if (!bytes) return undefined
  const elf = kmodElfNew(bytes)
  if (!(elf instanceof KmodElf)) return undefined
  const syms = elf.symbols()
  const deps = elf.dependencySymbols()
  const map = (list: typeof syms) => new Map(Array.isArray(list) ? list.map((x) => [x.symbol, x.crc >>> 0] as const) : [])
  return { exports: map(syms), deps: map(deps) }
}
