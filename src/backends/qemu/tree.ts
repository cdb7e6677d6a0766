/**
 * The installed module tree on the VM (`tree: 'installed'`). The VM's initramfs holds an empty
 * /lib/modules/<release>; the host's tree is ~400 MB, too much for the initramfs or the saved state.
 * So the files a command will read are uploaded just before it runs: the `modules.*` indexes, and the
 * modules that `modprobe NAME` will load (NAME, its dependencies from modules.dep, its softdeps),
 * `modinfo NAME` reads, or a command names by path. depmod, which reads every module, runs kmod's own
 * depmod (the binary the VM runs) on the host over the tree plus the run's own files; its indexes go up.
 */
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fnmatch } from '../../sim/tools/fnmatch.js'
import { depmodOptions } from '../../sim/tools/depmod.js'
import { getopt, GetoptError } from '../../sim/tools/getopt.js'
import { modinfoOptions } from '../../sim/tools/modinfo.js'
import { modprobeOptions } from '../../sim/tools/modprobe.js'

/** What modules.dep, modules.alias, modules.symbols and modules.softdep say, for deciding uploads. */
export class TreeIndex {
  private constructor(
    /** Module name -> its path (relative to the tree) and its dependencies' paths. */
    readonly modules: Map<string, { file: string; deps: string[] }>,
    /** Exact alias (and `symbol:` name) -> module names. */
    private readonly exact: Map<string, string[]>,
    /** Alias patterns with wildcards, in file order. */
    private readonly patterns: Array<[string, string]>,
    /** Module name -> the names of its pre and post softdeps. */
    private readonly softdeps: Map<string, string[]>,
  ) {}

  /**
   * Reads the text indexes of a tree directory (missing ones count as empty).
   * @example const index = await TreeIndex.read('/lib/modules/6.1.0-56-amd64')
   */
  static async read(dir: string): Promise<TreeIndex> {
    const text = (name: string) => readFile(path.join(dir, name), 'utf8').catch(() => '')
    const [dep, alias, symbols, softdep] = await Promise.all(['modules.dep', 'modules.alias', 'modules.symbols', 'modules.softdep'].map(text))
    const modules = new Map<string, { file: string; deps: string[] }>()
    for (const line of dep!.split('\n')) {
      const colon = line.indexOf(':')
      if (colon <= 0) continue
      const file = line.slice(0, colon)
      modules.set(moduleName(file), {
        file,
        deps: line
          .slice(colon + 1)
          .split(' ')
          .filter(Boolean),
      })
    }
    const exact = new Map<string, string[]>()
    const patterns: Array<[string, string]> = []
    for (const line of [...alias!.split('\n'), ...symbols!.split('\n')]) {
      const [word, pattern, mod] = line.split(' ')
      if (word !== 'alias' || !pattern || !mod) continue
      if (/[*?[]/.test(pattern)) patterns.push([pattern, mod])
      else exact.set(pattern, [...(exact.get(pattern) ?? []), mod])
    }
    const softdeps = new Map<string, string[]>()
    for (const line of softdep!.split('\n')) {
      const words = line.split(/\s+/).filter(Boolean)
      if (words[0] !== 'softdep' || !words[1]) continue
      softdeps.set(
        underscores(words[1]),
        words.slice(2).filter((w) => w !== 'pre:' && w !== 'post:'),
      )
    }
    return new TreeIndex(modules, exact, patterns, softdeps)
  }

  /** Module names a modprobe name stands for: the module itself, else every alias (or symbol) match. */
  lookup(name: string, config?: ModprobeConfig): string[] {
    const own = underscores(name)
    // kmod_module_new_from_lookup asks modprobe.d's aliases first.
    const configured = (config?.aliases ?? []).filter(([pattern]) => fnmatch(pattern, own)).map(([, mod]) => underscores(mod))
    if (configured.length > 0) return [...new Set(configured)]
    if (this.modules.has(own)) return [own]
    const found = new Set(this.exact.get(name) ?? [])
    // The literal part before a pattern's first wildcard rules out nearly all of ~20,000 patterns cheaply.
    for (const [pattern, mod] of this.patterns) if (name.startsWith(literalPrefix(pattern)) && fnmatch(pattern, name)) found.add(mod)
    return [...found]
  }

  /**
   * The tree paths `modprobe name` may read: each module the name stands for, its dependencies and,
   * recursively, its softdeps' modules (modprobe loads those too).
   * @example index.filesFor('libcrc32c') // ['kernel/lib/libcrc32c.ko', 'kernel/crypto/crc32c_generic.ko', ...]
   */
  filesFor(name: string, config?: ModprobeConfig): string[] {
    const files = new Set<string>()
    const seen = new Set<string>()
    const visit = (wanted: string): void => {
      for (const mod of this.lookup(wanted, config)) {
        if (seen.has(mod)) continue
        seen.add(mod)
        const entry = this.modules.get(mod)
        if (!entry) continue
        files.add(entry.file)
        for (const dep of entry.deps) {
          files.add(dep)
          visit(moduleName(dep))
        }
        for (const soft of [...(this.softdeps.get(mod) ?? []), ...(config?.softdeps.get(mod) ?? [])]) visit(soft)
      }
    }
    visit(name)
    return [...files]
  }
}

/** What the run's modprobe.d files say that changes which modules a name brings: aliases and softdeps. */
export interface ModprobeConfig {
  aliases: Array<[string, string]>
  softdeps: Map<string, string[]>
}

/**
 * The alias and softdep lines of modprobe.d files (the rest of their lines choose no other module).
 * @example parseModprobeConfig(['alias my-crc crc_user', 'softdep crc_user post: dummy']).softdeps.get('crc_user') // ['dummy']
 */
export function parseModprobeConfig(texts: readonly string[]): ModprobeConfig {
  const config: ModprobeConfig = { aliases: [], softdeps: new Map() }
  for (const line of texts.join('\n').replace(/\\\n/g, ' ').split('\n')) {
    const words = line.replace(/#.*/, '').split(/\s+/).filter(Boolean)
    if (words[0] === 'alias' && words.length >= 3) config.aliases.push([underscores(words[1]!), words[2]!])
    if (words[0] === 'softdep' && words.length >= 3) {
      const mod = underscores(words[1]!)
      config.softdeps.set(mod, [...(config.softdeps.get(mod) ?? []), ...words.slice(2).filter((w) => w !== 'pre:' && w !== 'post:')])
    }
  }
  return config
}

/** The kernel's name for a module path: basename without .ko(.xz/.zst), '-' as '_'. */
export function moduleName(file: string): string {
  return underscores(path.basename(file).replace(/\.ko(\.xz|\.zst|\.gz)?$/, ''))
}

function literalPrefix(pattern: string): string {
  const at = pattern.search(/[*?[\\]/)
  return at < 0 ? pattern : pattern.slice(0, at)
}

function underscores(name: string): string {
  return name.replace(/-/g, '_')
}

/** What a command needs from the tree before it runs. */
export interface TreeNeeds {
  /** The modules.* indexes (modprobe, modinfo by name, depmod, and anything that names the tree). */
  indexes: boolean
  /** Paths relative to the tree. */
  files: string[]
  /** kmod's depmod over the whole tree, run on the host (see the file comment). */
  depmod: boolean
}

/** Options and operands as the tool parses them; undefined when it would refuse them (it then says so itself). */
function parse(args: readonly string[], { short, longs }: { short: string; longs: Parameters<typeof getopt>[3] }): ReturnType<typeof getopt> | undefined {
  try {
    return getopt('', args, short, longs)
  } catch (error) {
    if (error instanceof GetoptError) return undefined
    throw error
  }
}

/**
 * What `argv` needs from the installed tree of `release` before it runs in the VM.
 * @example treeNeeds(['modprobe', 'bridge'], '/', '6.1.0-56-amd64', index) // { indexes: true, files: ['kernel/net/bridge/bridge.ko', ...], depmod: false }
 */
export function treeNeeds(argv: readonly string[], cwd: string, release: string, index: TreeIndex, config?: ModprobeConfig): TreeNeeds {
  const root = `/lib/modules/${release}`
  const inTree = (word: string): string | undefined => {
    const abs = path.posix.resolve(cwd, word)
    return abs.startsWith(root + '/') ? abs.slice(root.length + 1) : undefined
  }
  const [tool, ...args] = argv
  const named = args.map(inTree).filter((f): f is string => f !== undefined)
  const touches = named.length > 0 || args.some((w) => path.posix.resolve(cwd, w) === root || path.posix.resolve(cwd, w) === '/lib/modules')
  if (tool === 'modprobe') {
    const p = parse(args, modprobeOptions)
    // Another tree (-d, -S) or a removal: nothing of ours to bring.
    if (!p || p.opts.some((o) => o.opt === 'd' || o.opt === 'S' || o.opt === 'r' || o.opt === '5')) return { indexes: true, files: named, depmod: false }
    const all = p.opts.some((o) => o.opt === 'a')
    const byFile = p.opts.some((o) => o.opt === '4' || o.opt === '6')
    const names = byFile ? [] : all ? p.operands : p.operands.slice(0, 1)
    return { indexes: true, files: [...new Set([...named, ...names.flatMap((n) => index.filesFor(n, config))])], depmod: false }
  }
  if (tool === 'modinfo') {
    const p = parse(args, modinfoOptions)
    if (!p || p.opts.some((o) => o.opt === 'k' || o.opt === 'b')) return { indexes: true, files: named, depmod: false }
    // A name (not a path) is looked up in the tree; libkmod opens its dependencies' files too.
    const files = p.operands.filter((o) => !o.includes('/') && !o.endsWith('.ko')).flatMap((n) => index.filesFor(n, config))
    return { indexes: true, files: [...new Set([...named, ...files])], depmod: false }
  }
  if (tool === 'depmod') {
    const p = parse(args, depmodOptions)
    // A base directory, a config file or a named release other than ours is a depmod of something else: it runs in the VM.
    const own =
      p &&
      !p.opts.some((o) => 'bCEFP'.includes(o.opt)) &&
      !p.operands.some((o) => o !== release && !o.endsWith('.ko')) &&
      !p.opts.some((o) => o.opt === 'h' || o.opt === 'V')
    return { indexes: true, files: named, depmod: own === true }
  }
  if (tool === 'insmod' || tool === 'cat' || tool === 'cp' || tool === 'ls' || tool === 'rm') return { indexes: touches, files: named, depmod: false }
  return { indexes: touches, files: [], depmod: false }
}
