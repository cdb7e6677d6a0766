/** modprobe.d configuration as libkmod reads it: alias, options, install, remove, blacklist, softdep. */
import type { ToolContext } from './context.js'
import { abspath } from './context.js'
import { normalizeAlias, normalizeName } from './kmodlib.js'

export interface ModprobeConfig {
  aliases: Array<{ pattern: string; module: string }>
  /** Options per module name, each `options` line's text in file order. */
  options: Map<string, string[]>
  install: Map<string, string>
  remove: Map<string, string>
  blacklist: Set<string>
  softdeps: Map<string, { pre: string[]; post: string[] }>
}

/** The simulated machine's config directories (the sysroot's). */
const CONFIG_DIRS = ['/etc/modprobe.d']

/** Read every `.conf` file of the config directories (or of `paths`, as with modprobe -C), sorted by name. */
export function loadConfig(ctx: ToolContext, paths?: string[]): ModprobeConfig {
  const cfg: ModprobeConfig = { aliases: [], options: new Map(), install: new Map(), remove: new Map(), blacklist: new Set(), softdeps: new Map() }
  const files = new Map<string, string>()
  for (const p of paths ?? CONFIG_DIRS) {
    const dir = abspath(ctx, p)
    const st = ctx.vfs.stat(dir)
    if (!st) continue
    if (st.type === 'file') {
      const name = dir.slice(dir.lastIndexOf('/') + 1)
      if (!files.has(name)) files.set(name, dir)
      continue
    }
    for (const name of ctx.vfs.readdir(dir)) {
      if (name.startsWith('.') || !name.endsWith('.conf') || name.length < 6 || files.has(name)) continue
      if (ctx.vfs.stat(`${dir}/${name}`)?.type !== 'file') continue
      files.set(name, `${dir}/${name}`)
    }
  }
  for (const name of [...files.keys()].sort()) parseFile(cfg, ctx.vfs.readText(files.get(name)!))
  return cfg
}

/** Add the commands of one config text (a .conf file, or depmod's modules.softdep). */
export function parseFile(cfg: ModprobeConfig, text: string): void {
  // a trailing backslash continues a line
  const lines = text.replace(/\\\n/g, '').split('\n')
  for (const raw of lines) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const words = line.split(/[ \t]+/)
    const cmd = words[0]
    const mod = words[1] !== undefined ? normalizeName(words[1]) : undefined
    if (cmd === 'alias' && words.length >= 3) cfg.aliases.push({ pattern: normalizeAlias(words[1]!), module: normalizeName(words[2]!) })
    else if (cmd === 'options' && mod && words.length >= 3) {
      const list = cfg.options.get(mod) ?? []
      list.push(words.slice(2).join(' '))
      cfg.options.set(mod, list)
    } else if (cmd === 'install' && mod) cfg.install.set(mod, line.replace(/^install[ \t]+\S+[ \t]*/, ''))
    else if (cmd === 'remove' && mod) cfg.remove.set(mod, line.replace(/^remove[ \t]+\S+[ \t]*/, ''))
    else if (cmd === 'blacklist' && mod) cfg.blacklist.add(mod)
    else if (cmd === 'softdep' && mod) {
      const dep = cfg.softdeps.get(mod) ?? { pre: [], post: [] }
      let into: string[] | undefined
      for (const w of words.slice(2)) {
        if (w === 'pre:') into = dep.pre
        else if (w === 'post:') into = dep.post
        else into?.push(normalizeName(w))
      }
      cfg.softdeps.set(mod, dep)
    }
  }
}
