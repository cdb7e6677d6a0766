/**
 * kmod 30's modprobe: find a module by name or alias in /lib/modules/<release>, load its
 * dependencies and softdeps first, apply modprobe.d options and blacklist; -r removes a
 * module and the dependencies nobody uses any more.
 */
import { abspath, type Tool, type ToolContext } from './context.js'
import { errno, libkmodRemoveError, modprobeInsertError, strerror } from './errors.js'
import { parseToolOptions } from './getopt.js'
import { insertModuleFile } from './insmod.js'
import { holders, initState, ModuleDb, moduleDir, refcnt, type KmodModule } from './kmodlib.js'
import { O_NONBLOCK, O_TRUNC } from '../kernel/types.js'

const LONGS = [
  ['all', 'a'], ['remove', 'r'], ['remove-dependencies', '5'], ['remove-holders', '5'], ['wait', 'w', 1],
  ['resolve-alias', 'R'], ['first-time', '3'], ['ignore-install', 'i'], ['ignore-remove', 'i'], ['use-blacklist', 'b'],
  ['force', 'f'], ['force-modversion', '2'], ['force-vermagic', '1'], ['show-depends', 'D'], ['showconfig', 'c'],
  ['show-config', 'c'], ['show-modversions', '4'], ['dump-modversions', '4'], ['show-exports', '6'], ['dry-run', 'n'],
  ['show', 'n'], ['config', 'C', 1], ['dirname', 'd', 1], ['set-version', 'S', 1], ['syslog', 's'], ['quiet', 'q'],
  ['verbose', 'v'], ['version', 'V'], ['help', 'h'],
].map(([name, val, arg]) => ({ name: name as string, val: val as string, hasArg: arg === 1 }))

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

const inKernel = (s: State, m: KmodModule) => {
  const st = initState(s.ctx, m.name)
  return st === 'live' || st === 'coming' || st === 'builtin'
}

/** __kmod_module_get_probe_list: softdeps and dependencies before the module, each once. */
function probeList(s: State, mod: KmodModule): Array<{ m: KmodModule; required: boolean }> {
  const list: Array<{ m: KmodModule; required: boolean }> = []
  const visited = new Set<string>()
  const required = new Set<string>([mod.name, ...s.db.depsOf(mod).map((d) => d.name)])
  const softdeps = (m: KmodModule, key: 'pre' | 'post') => (s.db.config.softdeps.get(m.name)?.[key] ?? []).flatMap((n) => s.db.lookup(n))
  const fill = (m: KmodModule) => {
    for (const p of softdeps(m, 'pre')) get(p, true)
    if (!list.some((e) => e.m.name === m.name)) list.push({ m, required: required.has(m.name) })
    for (const p of softdeps(m, 'post')) get(p, true)
  }
  const get = (m: KmodModule, ignoreCmd: boolean) => {
    if (visited.has(m.name)) return
    visited.add(m.name)
    for (const d of s.db.depsOf(m)) fill(d)
    if (ignoreCmd && !s.ignoreCommands) list.push({ m, required: required.has(m.name) })
    else fill(m)
  }
  get(mod, s.ignoreCommands)
  return list
}

function optionsOf(s: State, m: KmodModule, extra?: string): string | undefined {
  const opts = s.db.config.options.get(m.name)?.join(' ')
  if (!opts && !extra) return undefined
  return (opts !== undefined ? opts + ' ' : '') + (extra ?? '')
}

/** kmod_module_probe_insert_module. */
function probeInsert(s: State, mod: KmodModule, extra?: string): number {
  if (!s.ignoreLoaded && inKernel(s, mod)) return s.firstTime ? -errno.EEXIST : 0
  if (s.db.config.blacklist.has(mod.name) && (s.useBlacklist || mod.alias !== undefined)) return 0
  let err = 0
  for (const { m, required } of probeList(s, mod)) {
    if (s.useBlacklist && m !== mod && s.db.config.blacklist.has(m.name)) continue
    if (!s.ignoreLoaded && inKernel(s, m)) err = -errno.EEXIST
    else {
      const options = optionsOf(s, m, m === mod ? extra : undefined)
      const cmd = s.ignoreCommands ? undefined : s.db.config.install.get(m.name)
      if (cmd !== undefined) {
        SHOW(s, `install ${cmd} ${options ?? ''}\n`)
        if (!s.dryRun) err = -errno.ENOSYS // install commands need a shell the simulator does not have
      } else if (m.path === undefined) {
        if (m.builtin) SHOW(s, `builtin ${m.name}\n`)
        else if (!s.dryRun) err = -errno.ENOENT
      } else {
        SHOW(s, `insmod ${m.path} ${options ?? ''}\n`)
        if (!s.dryRun) err = insertModuleFile(s.ctx, m.path, options ?? '', s.force)
      }
    }
    if (err === -errno.EEXIST && m === mod && s.firstTime) break
    if (err === -errno.EEXIST || !required) err = 0
    else if (err < 0) break
  }
  return err
}

function insmod(s: State, alias: string, extra?: string): number {
  let mods: KmodModule[]
  if (alias.startsWith('/') || alias.startsWith('./')) {
    if (!s.ctx.vfs.stat(abspath(s.ctx, alias))) {
      LOG(s, `Failed to get module from path ${alias}: ${strerror(errno.ENOENT)}`)
      return -errno.ENOENT
    }
    mods = [s.db.fromPath(alias)]
  } else {
    mods = s.db.lookup(alias)
    if (mods.length === 0) {
      LOG(s, `Module ${alias} not found in directory ${s.db.dir}`)
      return -errno.ENOENT
    }
  }
  let err = 0
  for (const mod of mods) {
    if (s.lookupOnly) {
      s.ctx.out(mod.name + '\n')
      err = 0
      continue
    }
    err = probeInsert(s, mod, extra)
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
  const soft = s.db.config.softdeps.get(mod.name)
  const pre = s.ignoreCommands ? [] : (soft?.pre ?? []).flatMap((n) => s.db.lookup(n))
  const post = s.ignoreCommands ? [] : (soft?.post ?? []).flatMap((n) => s.db.lookup(n))
  const cmd = s.ignoreCommands ? undefined : s.db.config.remove.get(mod.name)
  if (cmd === undefined && !s.ignoreLoaded) {
    const state = initState(s.ctx, mod.name)
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
    SHOW(s, `remove ${cmd}\n`)
    err = s.dryRun ? 0 : -errno.ENOSYS
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

export const modprobe: Tool = (ctx, argv) => {
  const s = { ctx, verbose: LOG_WARNING, logPriority: LOG_CRIT, show: false, dryRun: false, ignoreLoaded: false, ignoreCommands: false, lookupOnly: false, firstTime: false, useBlacklist: false, force: false, removeHolders: false } as State
  const parsed = parseToolOptions((text) => ctx.err(text), argv[0] ?? 'modprobe', argv.slice(1), 'arw:RibfDcnC:d:S:sqvVh', LONGS)
  if (typeof parsed === 'number') return parsed
  let all = false
  let remove = false
  let root: string | undefined
  let release: string | undefined
  const configs: string[] = []
  for (const { opt, arg } of parsed.opts) {
    switch (opt) {
      case 'a': s.logPriority = LOG_WARNING; all = true; break
      case 'r': remove = true; break
      case '5': s.removeHolders = true; break
      case '3': s.firstTime = true; break
      case 'i': s.ignoreCommands = true; break
      case 'b': s.useBlacklist = true; break
      case 'f': case '1': case '2': s.force = true; break
      case 'D': s.ignoreLoaded = true; s.dryRun = true; s.show = true; break
      case 'R': s.lookupOnly = true; break
      case 'n': s.dryRun = true; break
      case 'C': configs.push(arg!); break
      case 'd': root = arg; break
      case 'S': release = arg; break
      case 'q': s.verbose = 0; break
      case 'v': s.verbose++; break
      case 'V': ctx.out('kmod version 30\n+ZSTD +XZ -ZLIB +LIBCRYPTO -EXPERIMENTAL\n'); return 0
      case 'h': ctx.out('Usage:\n\tmodprobe [options] [-i] [-b] modulename\n'); return 0
      case 'c': case '4': case '6': case 'w':
        ctx.err(`modprobe: ERROR: option ${opt} is not supported by the simulator\n`)
        return 1
    }
  }
  const args = parsed.operands
  if (args.length === 0) {
    ctx.err('modprobe: ERROR: missing parameters. See -h.\n')
    return 1
  }
  const dir = root !== undefined || release !== undefined ? moduleDir(ctx, root ?? '', release) : moduleDir(ctx)
  s.db = new ModuleDb(ctx, dir, configs.length ? configs : undefined)
  let err = 0
  try {
    if (remove) for (const a of args) { const r = rmmod(s, a); if (r < 0) err = r }
    else if (all) for (const a of args) { const r = insmod(s, a); if (r < 0) err = r }
    else err = insmod(s, args[0]!, optionsFromArgs(args))
  } catch (e) {
    if (e instanceof Fatal) return 1
    throw e
  }
  return err >= 0 ? 0 : 1
}
