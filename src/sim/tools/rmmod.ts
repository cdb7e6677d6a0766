/** kmod 30's rmmod: check use as kmod does, then delete_module. */
import { O_NONBLOCK, O_TRUNC } from '../kernel/types.js'
import { abspath, type Tool, type ToolContext } from './context.js'
import { errno, libkmodRemoveError, strerror } from './errors.js'
import { parseToolOptions } from './getopt.js'
import { holders, initState, libkmodToolLog, ModuleDb, moduleDir, modnameNormalize, pathToModname, refcnt } from './kmodlib.js'

/** check_module_inuse(): the message and errno rmmod gives before asking the kernel, or 0. */
export function checkInUse(ctx: ToolContext, prog: string, name: string, db?: ModuleDb): number {
  const state = initState(ctx, name, db)
  if (state === 'builtin') {
    ctx.err(`${prog}: ERROR: Module ${name} is builtin.\n`)
    return -errno.ENOENT
  }
  if (state === undefined) {
    ctx.err(`${prog}: ERROR: Module ${name} is not currently loaded\n`)
    return -errno.ENOENT
  }
  // kmod_module_get_holders: a /sys/module directory without holders/ is an error libkmod logs
  const listed = ctx.kernel.listDir(`/sys/module/${name}/holders`)
  if (listed === undefined)
    db?.log('libkmod-module.c', 1998, 'kmod_module_get_holders', `could not open '/sys/module/${name}/holders': ${strerror(errno.ENOENT)}`)
  const hs = listed === undefined ? [] : holders(ctx, name)
  if (hs.length) {
    ctx.err(`${prog}: ERROR: Module ${name} is in use by:${hs.map((h) => ` ${h}`).join('')}\n`)
    return -errno.EBUSY
  }
  const count = refcnt(ctx, name)
  if (count > 0) {
    ctx.err(`${prog}: ERROR: Module ${name} is in use\n`)
    return -errno.EBUSY
  }
  // a /sys/module directory without refcnt (a built-in module the index does not name)
  if (count === -errno.ENOENT) ctx.err(`${prog}: ERROR: Module unloading is not supported\n`)
  return count < 0 ? count : 0
}

export const rmmod: Tool = (ctx, argv) => {
  const prog = 'rmmod'
  const parsed = parseToolOptions((text) => ctx.err(text), argv[0] ?? prog, argv.slice(1), 'fsvVwh', [
    { name: 'force', hasArg: false, val: 'f' },
    { name: 'syslog', hasArg: false, val: 's' },
    { name: 'verbose', hasArg: false, val: 'v' },
    { name: 'version', hasArg: false, val: 'V' },
    { name: 'wait', hasArg: false, val: 'w' },
    { name: 'help', hasArg: false, val: 'h' },
  ])
  if (typeof parsed === 'number') return parsed
  let force = false
  for (const { opt } of parsed.opts) {
    if (opt === 'f') force = true
    else if (opt === 'V') {
      ctx.out('kmod version 30\n')
      return 0
    } else if (opt === 'h') {
      ctx.out(`Usage:\n\t${prog} [options] modulename ...\n`)
      return 0
    }
  }
  if (parsed.operands.length === 0) {
    ctx.err(`${prog}: ERROR: missing module name.\n`)
    return 1
  }
  // kmod_new(NULL, &null_config): the running release's indexes, no modprobe.d
  const db = new ModuleDb(ctx, moduleDir(ctx), [])
  db.log = libkmodToolLog(ctx, prog)
  let failures = 0
  for (const arg of parsed.operands) {
    // an existing file names its module by its file name (kmod_module_new_from_path); any other
    // argument by modname_normalize: "-" as "_", cut at the first "." (so "x.ko" names x)
    const name = ctx.vfs.stat(abspath(ctx, arg)) ? pathToModname(arg) : modnameNormalize(arg)
    if (!force && checkInUse(ctx, prog, name, db) < 0) {
      failures++
      continue
    }
    const err = ctx.kernel.deleteModule(name, O_NONBLOCK | (force ? O_TRUNC : 0))
    if (err < 0) {
      ctx.err(libkmodRemoveError(prog, name, err))
      ctx.err(`${prog}: ERROR: could not remove module ${arg}: ${strerror(err)}\n`)
      failures++
    }
  }
  return failures === 0 ? 0 : 1
}
