/**
 * modprobe.d configuration as libkmod 30 reads it (kmod_config_new): every `.conf`/`.alias` file
 * of the config directories plus depmod's modules.softdep, in file-name order, then the module
 * options on the kernel command line. Each command keeps its file order, as kmod's lists do.
 */
import { posix } from 'node:path'
import type { ToolContext } from './context.js'
import { abspath } from './context.js'
import { fnmatch } from './fnmatch.js'
import { freadlineWrapped } from './readline.js'

export interface ModprobeConfig {
  aliases: Array<{ pattern: string; module: string }>
  blacklist: string[]
  /** `options` lines (and kernel command line options) in order; text as written after the name. */
  options: Array<{ module: string; text: string }>
  install: Array<{ module: string; command: string }>
  remove: Array<{ module: string; command: string }>
  softdeps: Array<{ module: string; pre: string[]; post: string[] }>
  /** libkmod's error lines from reading the configuration (printed when a tool creates its context). */
  errors: string[]
}

/** libkmod's default config directories (SYSCONFDIR is /etc on Debian). */
export const MODPROBE_CONFIG_DIRS = ['/etc/modprobe.d', '/run/modprobe.d', '/usr/local/lib/modprobe.d', '/lib/modprobe.d']

/** libkmod logs through its default stderr logger while the context is being created. */
const libkmodErr = (line: number, fn: string, msg: string) => `libkmod: ERROR ../libkmod/libkmod-config.c:${line} ${fn}: ${msg}\n`

/** underscores(): '-' → '_' outside [...]; undefined for an unmatched bracket (a bad line). */
export function underscores(s: string): string | undefined {
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c === ']') return undefined
    if (c === '[') {
      const end = s.indexOf(']', i)
      if (end < 0) return undefined
      out += s.slice(i, end + 1)
      i = end
      continue
    }
    out += c === '-' ? '_' : c
  }
  return out
}

/**
 * libkmod's conf_files_list (and depmod's cfg_files_list): the files of `paths` whose names end in one
 * of `suffixes`, by name (the first directory to hold a name wins), sorted bytewise. `seed` names
 * files that take part before any directory (libkmod's modules.softdep); a directory inside a
 * directory is skipped and reported to `nested`.
 */
export function configFiles(
  ctx: ToolContext,
  paths: string[],
  suffixes: string[],
  nested: (path: string) => void,
  seed: Array<[string, string]> = [],
): string[] {
  const byName = new Map<string, string>(seed)
  for (const p of paths) {
    const dir = abspath(ctx, p)
    const st = ctx.vfs.stat(dir)
    if (!st) continue
    if (st.type === 'file') {
      const name = posix.basename(dir)
      if (!byName.has(name)) byName.set(name, dir)
      continue
    }
    for (const name of ctx.vfs.readdir(dir)) {
      if (name.startsWith('.') || name.length < 6 || !suffixes.some((x) => name.endsWith(x))) continue
      if (ctx.vfs.stat(`${dir}/${name}`)?.type === 'dir') {
        nested(`${dir}/${name}`)
        continue
      }
      if (!byName.has(name)) byName.set(name, `${dir}/${name}`)
    }
  }
  return [...byName.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).map((n) => byName.get(n)!)
}

/**
 * Read the configuration a libkmod context of `moddir` sees: `paths` (modprobe -C) or the default
 * directories, modules.softdep, and module options from /proc/cmdline.
 * @example loadConfig(ctx, '/lib/modules/6.1.0-56-amd64').options
 */
export function loadConfig(ctx: ToolContext, moddir: string, paths?: string[]): ModprobeConfig {
  const cfg: ModprobeConfig = { aliases: [], blacklist: [], options: [], install: [], remove: [], softdeps: [], errors: [] }
  const nested = (path: string) => cfg.errors.push(libkmodErr(772, 'conf_files_filter_out', `Directories inside directories are not supported: ${path}`))
  for (const file of configFiles(ctx, paths ?? MODPROBE_CONFIG_DIRS, ['.conf', '.alias'], nested, [['modules.softdep', `${moddir}/modules.softdep`]])) {
    let text: string
    // modules.softdep is often missing: ask stat first rather than pay for the VfsError
    if (ctx.vfs.stat(file)?.type !== 'file') continue
    try {
      text = ctx.vfs.readText(file)
    } catch {
      continue
    }
    parseFile(cfg, text, file)
  }
  let cmdline: string | undefined
  try {
    cmdline = ctx.vfs.readText('/proc/cmdline')
  } catch {
    cmdline = undefined
  }
  if (cmdline !== undefined) parseKernelCmdline(cfg, cmdline)
  return cfg
}

/** kmod_config_parse: one file's commands; a bad line is reported with the file and line. */
export function parseFile(cfg: ModprobeConfig, text: string, file: string): void {
  for (const { text: line, linenum } of freadlineWrapped(text)) {
    if (line === '' || line.startsWith('#')) continue
    // strtok_r(line, "\t "): the command, then words; "the rest" keeps what follows the word's delimiter
    const m = /^[\t ]*([^\t ]+)[\t ]?(.*)$/s.exec(line)
    if (!m) continue
    const cmd = m[1]!
    const word = (s: string) => /^[\t ]*([^\t ]+)[\t ]?(.*)$/s.exec(s)
    const first = word(m[2]!)
    const name = first ? underscores(first[1]!) : undefined
    const rest = first?.[2] ? first[2] : undefined
    const bad = () => cfg.errors.push(libkmodErr(712, 'kmod_config_parse', `${file} line ${linenum}: ignoring bad line starting with '${cmd}'`))
    if (cmd === 'alias') {
      const second = rest !== undefined ? word(rest) : null
      const module = second ? underscores(second[1]!) : undefined
      if (name === undefined || module === undefined) bad()
      else cfg.aliases.push({ pattern: name, module })
    } else if (cmd === 'blacklist') {
      if (name === undefined) bad()
      else cfg.blacklist.push(name)
    } else if (cmd === 'options' || cmd === 'install' || cmd === 'remove' || cmd === 'softdep') {
      if (name === undefined || rest === undefined) bad()
      else if (cmd === 'options') cfg.options.push({ module: name, text: rest.replace(/\t/g, ' ') })
      else if (cmd === 'install') cfg.install.push({ module: name, command: rest })
      else if (cmd === 'remove') cfg.remove.push({ module: name, command: rest })
      else cfg.softdeps.push({ module: name, ...softdepLists(rest) })
    } else if (cmd === 'include' || cmd === 'config') {
      cfg.errors.push(libkmodErr(708, 'kmod_config_parse', `${file}: command ${cmd} is deprecated and not parsed anymore`))
    } else bad()
  }
}

/** kmod_config_add_softdep: words after `pre:` and `post:`, as written (not normalized). */
function softdepLists(text: string): { pre: string[]; post: string[] } {
  const pre: string[] = []
  const post: string[] = []
  let into: string[] | undefined
  for (const w of text.split(/\s+/).filter(Boolean)) {
    if (w === 'pre:') into = pre
    else if (w === 'post:') into = post
    else into?.push(w)
  }
  return { pre, post }
}

/**
 * kmod_config_parse_kcmdline: `mod.param[=value]` words of /proc/cmdline become options (quotes
 * allowed around the value, or around the whole word as bootloaders pass it), and
 * `modprobe.blacklist=a,b` blacklists.
 */
export function parseKernelCmdline(cfg: ModprobeConfig, cmdline: string): void {
  const buf = cmdline + '\0'
  type State = 'ignore' | 'modname' | 'param' | 'value'
  let state: State = 'modname'
  let quoted = false
  let quoteStart = -1
  let modname = 0
  let param = -1
  let value = -1
  for (let p = 0; p < buf.length; p++) {
    const c = buf[p]!
    let complete = false
    if (c === '"') {
      quoted = !quoted
      if (quoted && state === 'modname' && p === modname) {
        quoteStart = p
        modname = p + 1
      } else if (state !== 'value') state = 'ignore'
    } else if (c === '\0' || /[ \n\t\v\f\r]/.test(c)) {
      if (quoted && state === 'value') {
        // a quoted value keeps its blanks
      } else if (quoted) state = 'ignore'
      else if (state === 'value' || state === 'param') complete = true
      else {
        modname = p + 1
        state = 'modname'
        quoteStart = -1
      }
    } else if (c === '.') {
      if (state === 'modname') {
        param = p + 1
        state = 'param'
      } else if (state === 'param') state = 'ignore'
    } else if (c === '=') {
      if (state === 'param') {
        value = p + 1
        state = 'value'
      } else if (state === 'modname') state = 'ignore'
    }
    if (complete) {
      const mod = buf.slice(modname, param - 1)
      let text = buf.slice(param, p)
      // the bootloader quoted the whole word: re-quote the value instead
      if (quoteStart >= 0 && quoteStart < modname && value >= 0) text = `${buf.slice(param, value)}"${buf.slice(value, p)}`
      addKcmdline(cfg, mod, text, state === 'value' ? buf.slice(value, p) : undefined)
      modname = p + 1
      state = 'modname'
      quoteStart = -1
    }
  }
}

function addKcmdline(cfg: ModprobeConfig, mod: string, param: string, value: string | undefined): void {
  if (mod === 'modprobe' && param.startsWith('blacklist=')) {
    for (const name of (value ?? '').split(',')) cfg.blacklist.push(name)
    return
  }
  const name = underscores(mod)
  if (name === undefined)
    cfg.errors.push(libkmodErr(489, 'kcmdline_parse_result', `Ignoring bad option on kernel command line while parsing module name: '${mod}'`))
  else cfg.options.push({ module: name, text: param })
}

/** kmod_module_get_options: every options entry for the module's name or the alias it was found by. */
export function optionsFor(cfg: ModprobeConfig, name: string, alias?: string): string | undefined {
  const texts = cfg.options.filter((o) => o.module === name || (alias !== undefined && o.module === alias)).map((o) => o.text)
  return texts.length ? texts.join(' ') : undefined
}

/** The first install (or remove) command whose module pattern matches, as libkmod picks it. */
export function commandFor(list: ModprobeConfig['install'], name: string): string | undefined {
  return list.find((c) => fnmatch(c.module, name))?.command
}

/** The first softdep whose module pattern matches. */
export function softdepFor(cfg: ModprobeConfig, name: string): { pre: string[]; post: string[] } | undefined {
  return cfg.softdeps.find((s) => fnmatch(s.module, name))
}

export const isBlacklisted = (cfg: ModprobeConfig, name: string) => cfg.blacklist.includes(name)
