/**
 * kmod 30's modprobe: find a module by name or alias in /lib/modules/<release>, load its
 * dependencies and softdeps first, apply modprobe.d options and blacklist; -r removes a
 * module and the dependencies nobody uses any more.
 */
import { kmodExportedSymbols } from '../../elf/module.js'
import { readElf } from '../../elf/read.js'
import { commandFor, isBlacklisted, optionsFor, softdepFor } from './config.js'
import { abspath, type Tool, type ToolContext } from './context.js'
import { errno, libkmodRemoveError, modprobeInsertError, strerror } from './errors.js'
import { parseToolOptions } from './getopt.js'
import { insertModuleFile } from './insmod.js'
import { holders, initState, libkmodToolLog, loadModuleFile, ModuleDb, moduleDir, refcnt, type KmodModule } from './kmodlib.js'
import { runShell } from './shell.js'
import { O_NONBLOCK, O_TRUNC } from '../kernel/types.js'

const LONGS = [
  ['all', 'a'],
  ['remove', 'r'],
  ['remove-dependencies', '5'],
  ['remove-holders', '5'],
  ['wait', 'w', 1],
  ['resolve-alias', 'R'],
  ['first-time', '3'],
  ['ignore-install', 'i'],
  ['ignore-remove', 'i'],
  ['use-blacklist', 'b'],
  ['force', 'f'],
  ['force-modversion', '2'],
  ['force-vermagic', '1'],
  ['show-depends', 'D'],
  ['showconfig', 'c'],
  ['show-config', 'c'],
  ['show-modversions', '4'],
  ['dump-modversions', '4'],
  ['show-exports', '6'],
  ['dry-run', 'n'],
  ['show', 'n'],
  ['config', 'C', 1],
  ['dirname', 'd', 1],
  ['set-version', 'S', 1],
  ['syslog', 's'],
  ['quiet', 'q'],
  ['verbose', 'v'],
  ['version', 'V'],
  ['help', 'h'],
].map(([name, val, arg]) => ({ name: name as string, val: val as string, hasArg: arg === 1 }))

/** modprobe's options as kmod 30 declares them (getopt_long's short string and long table); the qemu backend parses with them too. */
export const modprobeOptions = { short: 'arw:RibfDcnC:d:S:sqvVh', longs: LONGS }

const LOG_CRIT = 2
const LOG_ERR = 3
const LOG_WARNING = 4

/** log_printf's exit on a FATAL message. */
class Fatal extends Error {}

interface State {
  ctx: ToolContext
  db: ModuleDb
  verbose: number
  logPriority: number
  show: boolean
  dryRun: boolean
  ignoreLoaded: boolean
  ignoreCommands: boolean
  lookupOnly: boolean
  firstTime: boolean
  useBlacklist: boolean
  force: boolean
  removeHolders: boolean
  /** What modprobe appends to MODPROBE_OPTIONS for commands it runs (-C, -q, -v, -s). */
  envOptions: string[]
  /** The machine's tools, for install and remove commands. */
  tools: Record<string, Tool>
}

const PRIO_NAME: Record<number, string> = { 2: 'FATAL', 3: 'ERROR', 4: 'WARNING' }

function log(s: State, prio: number, msg: string): void {
  if (prio <= s.verbose) s.ctx.err(`modprobe: ${PRIO_NAME[prio]}: ${msg}\n`)
  if (prio <= LOG_CRIT) throw new Fatal()
}
const LOG = (s: State, msg: string) => log(s, s.logPriority, msg)
const SHOW = (s: State, text: string) => {
  if (s.show || s.verbose > LOG_WARNING) s.ctx.out(text)
}

/** module_is_inkernel: live, or built in. */
const inKernel = (s: State, m: KmodModule) => {
  const st = initState(s.ctx, m.name, s.db)
  return st === 'live' || st === 'builtin'
}

interface ProbeEntry {
  m: KmodModule
  required: boolean
  /** A module reached as a dependency, or one with softdeps, ignores its install command. */
  ignorecmd: boolean
}

/** __kmod_module_get_probe_list: dependencies and softdeps before the module; softdep targets once. */
function probeList(s: State, mod: KmodModule): ProbeEntry[] {
  const list: ProbeEntry[] = []
  const visited = new Set<string>()
  const required = new Set<string>()
  const ignorecmd = new Set<string>()
  const softdeps = (m: KmodModule) => {
    const sd = softdepFor(s.db.config, m.name)
    const look = (names: string[]) => names.flatMap((n) => s.db.lookup(n))
    return { pre: look(sd?.pre ?? []), post: look(sd?.post ?? []) }
  }
  const fill = (m: KmodModule) => {
    const { pre, post } = softdeps(m)
    for (const p of pre) get(p, false, false)
    list.push({ m, required: false, ignorecmd: false })
    if (pre.length || post.length) ignorecmd.add(m.name)
    for (const p of post) get(p, false, false)
  }
  const get = (m: KmodModule, req: boolean, ignoreCmd: boolean) => {
    if (visited.has(m.name)) return
    visited.add(m.name)
    const deps = s.db.depsOf(m)
    if (req) for (const x of [m, ...deps]) required.add(x.name)
    for (const d of deps) fill(d)
    if (ignoreCmd) {
      list.push({ m, required: false, ignorecmd: true })
      ignorecmd.add(m.name)
    } else fill(m)
  }
  get(mod, true, s.ignoreCommands)
  return list.map((e) => ({ ...e, required: required.has(e.m.name), ignorecmd: ignorecmd.has(e.m.name) }))
}

/** module_options_concat: configured options, a blank, then the command line's (for the module asked for). */
function optionsOf(s: State, m: KmodModule, extra?: string): string | undefined {
  const opts = optionsFor(s.db.config, m.name, m.alias)
  if (opts === undefined && !extra) return undefined
  return (opts !== undefined ? opts + ' ' : '') + (extra ?? '')
}

/** libkmod's command_do: run an install command through the shell with MODPROBE_MODULE set. */
function runInstall(s: State, m: KmodModule, cmd: string, options: string | undefined): number {
  const line = cmd.replaceAll('$CMDLINE_OPTS', options ?? '')
  const status = shellRun(s, line, m.name)
  if (status === 0) return 0
  s.db.log('libkmod-module.c', 1047, 'command_do', `Error running install command '${line}' for module ${m.name}: retcode ${status}`)
  return -errno.EINVAL
}

/** How deep install/remove commands are nested now (a command that runs modprobe of its own module recurses). */
let nesting = 0
const MAX_NESTING = 16

/** system(3) on the simulated machine, with modprobe's environment (MODPROBE_OPTIONS reaches a nested modprobe). */
function shellRun(s: State, line: string, modname: string): number {
  if (nesting >= MAX_NESTING) {
    s.ctx.note?.(
      `install/remove commands nested ${MAX_NESTING} deep (one that runs modprobe of its own module without --ignore-install?): the simulator stops there with status 2; a real system goes on until it runs out of processes`,
    )
    return 2
  }
  nesting++
  try {
    return shellRunOnce(s, line, modname)
  } finally {
    nesting--
  }
}

function shellRunOnce(s: State, line: string, modname: string): number {
  const env: Record<string, string> = { MODPROBE_MODULE: modname }
  if (s.envOptions.length) env.MODPROBE_OPTIONS = s.envOptions.join(' ')
  return runShell(s.ctx, line, {
    env,
    tools: Object.keys(s.tools),
    run: (ctx, argv) => {
      const extra = argv[0] === 'modprobe' && env.MODPROBE_OPTIONS ? env.MODPROBE_OPTIONS.split(' ') : []
      return s.tools[argv[0]!]!(ctx, [argv[0]!, ...extra, ...argv.slice(1)])
    },
    note: (text) => s.ctx.note?.(text),
  })
}

/** kmod_module_probe_insert_module with modprobe's print_action. */
function probeInsert(s: State, mod: KmodModule, extra?: string): number {
  if (!s.ignoreLoaded && inKernel(s, mod)) return s.firstTime ? -errno.EEXIST : 0
  // blacklist: for a module found through an alias, or for the module asked for with -b
  if ((mod.alias !== undefined || s.useBlacklist) && isBlacklisted(s.db.config, mod.name)) return 0
  let err = 0
  for (const { m, required, ignorecmd } of probeList(s, mod)) {
    if (!s.ignoreLoaded && inKernel(s, m)) err = -errno.EEXIST
    else {
      const options = optionsOf(s, m, m === mod ? extra : undefined)
      const cmd = commandFor(s.db.config.install, m.name)
      if (cmd !== undefined && !ignorecmd) {
        SHOW(s, `install ${cmd} ${options ?? ''}\n`)
        if (!s.dryRun) err = runInstall(s, m, cmd, options)
      } else {
        if (m.path === undefined) {
          if (initState(s.ctx, m.name, s.db) === 'builtin') SHOW(s, `builtin ${m.name}\n`)
        } else SHOW(s, `insmod ${m.path} ${options ?? ''}\n`)
        if (!s.dryRun) {
          if (m.path === undefined) {
            s.db.log('libkmod-module.c', 895, 'kmod_module_insert_module', `could not find module by name='${m.name}'`)
            err = -errno.ENOENT
          } else err = insertModuleFile(s.ctx, m.path, options ?? '', s.force)
        }
      }
    }
    if (err === -errno.EEXIST && m === mod && s.firstTime) break
    if (err === -errno.EEXIST || !required) err = 0
    else if (err < 0) break
  }
  return err
}

function insmod(s: State, alias: string, extra?: string): number {
  // kmod 30 looks every argument up as a name or alias, a path included
  const mods = s.db.lookup(alias)
  if (mods.length === 0) {
    LOG(s, `Module ${alias} not found in directory ${s.db.dir}`)
    return -errno.ENOENT
  }
  let err = 0
  for (const mod of mods) {
    if (s.lookupOnly) s.ctx.out(mod.name + '\n')
    else err = probeInsert(s, mod, extra)
    if (err >= 0) err = 0
    else log(s, LOG_ERR, modprobeInsertError(mod.name, err))
  }
  return err
}

function removeModule(s: State, m: KmodModule): number {
  SHOW(s, `rmmod ${m.name}\n`)
  if (s.dryRun) return 0
  const err = s.ctx.kernel.deleteModule(m.name, O_NONBLOCK | (s.force ? O_TRUNC : 0))
  if (err < 0 && LOG_ERR <= s.verbose) s.ctx.err(libkmodRemoveError('modprobe', m.name, err))
  if (err === -errno.EEXIST) {
    if (s.firstTime) LOG(s, `Module ${m.name} is not in kernel.`)
    return s.firstTime ? err : 0
  }
  return err
}

function rmmodModule(s: State, mod: KmodModule, withHolders: boolean, ignoreBuiltin: boolean): number {
  const soft = s.ignoreCommands ? undefined : softdepFor(s.db.config, mod.name)
  const pre = (soft?.pre ?? []).flatMap((n) => s.db.lookup(n))
  const post = (soft?.post ?? []).flatMap((n) => s.db.lookup(n))
  const cmd = s.ignoreCommands ? undefined : commandFor(s.db.config.remove, mod.name)
  if (cmd === undefined && !s.ignoreLoaded) {
    const state = initState(s.ctx, mod.name, s.db)
    if (state === undefined) {
      if (s.firstTime) {
        LOG(s, `Module ${mod.name} is not in kernel.`)
        return -errno.ENOENT
      }
      return 0
    }
    if (state === 'builtin') {
      if (ignoreBuiltin) return 0
      LOG(s, `Module ${mod.name} is builtin.`)
      return -errno.ENOENT
    }
  }
  for (const p of [...post].reverse()) rmmodModule(s, p, false, true)
  if (withHolders) {
    for (const h of holders(s.ctx, mod.name).reverse()) {
      const err = rmmodModule(s, s.db.byName(h), false, true)
      if (err < 0) return err
    }
  }
  if (cmd === undefined && !s.ignoreLoaded && refcnt(s.ctx, mod.name) > 0) {
    LOG(s, `Module ${mod.name} is in use.`)
    return -errno.EBUSY
  }
  let err: number
  if (cmd === undefined) err = removeModule(s, mod)
  else {
    // modprobe's own command_do: $CMDLINE_OPTS is empty for remove
    const line = cmd.replaceAll('$CMDLINE_OPTS', '')
    SHOW(s, `remove ${line}\n`)
    err = 0
    if (!s.dryRun) {
      const status = shellRun(s, line, mod.name)
      if (status !== 0) {
        LOG(s, `Error running remove command for ${mod.name}`)
        err = -status
      }
    }
  }
  if (err < 0) return err
  if (cmd === undefined) for (const d of s.db.depsOf(mod)) if (refcnt(s.ctx, d.name) === 0) removeModule(s, d)
  for (const p of [...pre].reverse()) rmmodModule(s, p, false, true)
  return 0
}

function rmmod(s: State, alias: string): number {
  const mods = s.db.lookup(alias)
  if (mods.length === 0) {
    LOG(s, `Module ${alias} not found.`)
    return -errno.ENOENT
  }
  let err = 0
  for (const m of mods) {
    err = rmmodModule(s, m, s.removeHolders, false)
    if (err < 0) break
  }
  return err
}

/** options_from_array: the words after the module name, values with spaces quoted. */
function optionsFromArgs(args: string[]): string | undefined {
  if (args.length < 2) return undefined
  return args
    .slice(1)
    .map((a) => {
      const eq = a.indexOf('=')
      if (eq < 0) return a
      const value = a.slice(eq + 1)
      if (value.startsWith('"') || value.startsWith("'") || !value.includes(' ')) return a
      return `${a.slice(0, eq + 1)}"${value}"`
    })
    .join(' ')
}

/** show_config: every configuration list, then the alias and symbol indexes as kmod_dump_index prints them. */
function showConfig(s: State): void {
  const c = s.db.config
  let out = ''
  for (const b of c.blacklist) out += `blacklist ${b}\n`
  for (const i of c.install) out += `install ${i.module} ${i.command}\n`
  for (const r of c.remove) out += `remove ${r.module} ${r.command}\n`
  for (const a of c.aliases) out += `alias ${a.pattern} ${a.module}\n`
  for (const o of c.options) out += `options ${o.module} ${o.text}\n`
  // softdep_to_char writes "post:" right after the last pre name, without a blank
  for (const d of c.softdeps) out += `softdep ${d.module} ${d.pre.length ? `pre: ${d.pre.join(' ')}` : ''}${d.post.length ? `post: ${d.post.join(' ')}` : ''}\n`
  out += '\n# End of configuration files. Dumping indexes now:\n\n'
  for (const file of ['modules.alias.bin', 'modules.symbols.bin']) {
    for (const [key, values] of s.db.index(file) ?? []) for (const v of values) out += `alias ${key} ${v}\n`
  }
  s.ctx.out(out)
}

/** show_exports / show_modversions: `0x%08x\t<symbol>` for each export (or __versions entry) of a module file. */
function showSymbols(s: State, filename: string | undefined, what: 'exports' | 'versions'): number {
  const abs = filename === undefined ? undefined : abspath(s.ctx, filename)
  if (abs === undefined || !s.ctx.vfs.stat(abs)) {
    LOG(s, `Module ${filename ?? '(null)'} not found.`)
    return -errno.ENOENT
  }
  const { info, bytes, err } = loadModuleFile(s.ctx, abs)
  // kmod_module_get_symbols lists exports as depmod sees them (the __crc_ symbols' order)
  const crcs = new Map(info?.exports.map((e) => [e.name, e.crc ?? 0]))
  const list =
    !info || !bytes ? undefined : what === 'exports' ? kmodExportedSymbols(readElf(bytes)).map((name) => ({ name, crc: crcs.get(name) ?? 0 })) : info.versions
  if (!list || list.length === 0) {
    LOG(s, `could not get ${what === 'exports' ? 'symbols' : 'modversions'} of ${filename}: ${strerror(info ? errno.ENOENT : err)}`)
    return info ? -errno.ENOENT : err
  }
  s.ctx.out(list.map((e) => `0x${(e.crc >>> 0).toString(16).padStart(8, '0')}\t${e.name}\n`).join(''))
  return 0
}

/**
 * modprobe, running install and remove commands with the machine's tools (table.ts passes its own table:
 * modprobe is one of them, so it cannot import the table).
 * @example const modprobe = modprobeWith(toolTable); modprobe(ctx, ['modprobe', 'hello_api'])
 */
export const modprobeWith =
  (machineTools: () => Record<string, Tool>): Tool =>
  (ctx, argv) =>
    modprobe(ctx, argv, machineTools())

function modprobe(ctx: ToolContext, argv: string[], tools: Record<string, Tool>): number {
  const s = {
    ctx,
    verbose: LOG_WARNING,
    logPriority: LOG_CRIT,
    show: false,
    dryRun: false,
    ignoreLoaded: false,
    ignoreCommands: false,
    lookupOnly: false,
    firstTime: false,
    useBlacklist: false,
    force: false,
    removeHolders: false,
    envOptions: [],
    tools,
  } as unknown as State
  const parsed = parseToolOptions((text) => ctx.err(text), argv[0] ?? 'modprobe', argv.slice(1), modprobeOptions.short, modprobeOptions.longs)
  if (typeof parsed === 'number') return parsed
  let all = false
  let remove = false
  let showCfg = false
  let showVersions = false
  let showExports = false
  let root: string | undefined
  let release: string | undefined
  const configs: string[] = []
  for (const { opt, arg } of parsed.opts) {
    switch (opt) {
      case 'a':
        s.logPriority = LOG_WARNING
        all = true
        break
      case 'r':
        remove = true
        break
      case '5':
        s.removeHolders = true
        break
      case 'w':
        if (!arg || !/^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(arg)) {
          ctx.err(`modprobe: ERROR: unexpected wait value '${arg}'.\n`)
          return 1
        }
        break
      case '3':
        s.firstTime = true
        break
      case 'i':
        s.ignoreCommands = true
        break
      case 'b':
        s.useBlacklist = true
        break
      case 'f':
      case '1':
      case '2':
        s.force = true
        break
      case 'D':
        s.ignoreLoaded = true
        s.dryRun = true
        s.show = true
        break
      case 'R':
        s.lookupOnly = true
        break
      case 'c':
        showCfg = true
        break
      case '4':
        showVersions = true
        break
      case '6':
        showExports = true
        break
      case 'n':
        s.dryRun = true
        break
      case 'C':
        configs.push(arg!)
        s.envOptions.push('-C', arg!)
        break
      case 'd':
        root = arg
        break
      case 'S':
        release = arg
        break
      case 's':
        s.envOptions.push('-s')
        break
      case 'q':
        s.verbose = 0
        s.envOptions.push('-q')
        break
      case 'v':
        s.verbose++
        s.envOptions.push('-v')
        break
      case 'V':
        ctx.out('kmod version 30\n+ZSTD +XZ -ZLIB +LIBCRYPTO -EXPERIMENTAL\n')
        return 0
      case 'h':
        ctx.out('Usage:\n\tmodprobe [options] [-i] [-b] modulename\n')
        return 0
    }
  }
  const args = parsed.operands
  if (args.length === 0 && !showCfg) {
    ctx.err('modprobe: ERROR: missing parameters. See -h.\n')
    return 1
  }
  const dir = root !== undefined || release !== undefined ? moduleDir(ctx, root ?? '', release) : moduleDir(ctx)
  s.db = new ModuleDb(ctx, dir, configs.length ? configs : undefined)
  // log_setup_kmod_log: libkmod's errors now go through modprobe's logger, at its verbosity
  s.db.log = (file, line, fn, msg) => {
    if (LOG_ERR <= s.verbose) libkmodToolLog(ctx, 'modprobe')(file, line, fn, msg)
  }
  let err = 0
  try {
    if (showCfg) showConfig(s)
    else if (showVersions) err = showSymbols(s, args[0], 'versions')
    else if (showExports) err = showSymbols(s, args[0], 'exports')
    else if (remove)
      for (const a of args) {
        const r = rmmod(s, a)
        if (r < 0) err = r
      }
    else if (all)
      for (const a of args) {
        const r = insmod(s, a)
        if (r < 0) err = r
      }
    else err = insmod(s, args[0]!, optionsFromArgs(args))
  } catch (e) {
    if (e instanceof Fatal) return 1
    throw e
  }
  return err >= 0 ? 0 : 1
}
