import { bootOf, noViewsNote, type BuiltinModule } from './boot.js'
import { formatParam, storeParam } from './params.js'
import { machineOf, readParamFromModule, writeParamToModule } from './machine.js'
import { findModule, refcount, type KernelState, type SimModule } from './state.js'
import { addTaint, moduleFlags, moduleTaintLetters, TAINT_USER } from './taint.js'
import { errno } from './types.js'
import { kernfsOrder } from './kernfs.js'

const { ENOENT, EACCES, EINVAL, EIO } = errno
/** Files the registries of sim/kapi show (the kernel's own boot registrations included, so the machine is made for them). */
const REGISTRY_PATH = /^\/(proc\/(devices|misc|filesystems|crypto)$|sys\/(block|class|bus|fs|kernel\/debug)(\/|$))/

/** /proc/modules: newest first, like the kernel's modules list (m_show() of procfs.c). */
function procModules(k: KernelState): string {
  let out = ''
  for (const m of k.modules) {
    if (m.state === 'unformed' || m.state === 'gone') continue
    const holders = m.sources.map((s) => s.name + ',').join('') + (m.hasInit && !m.hasExit ? '[permanent],' : '')
    const state = m.state === 'going' ? 'Unloading' : m.state === 'coming' ? 'Loading' : 'Live'
    const flags = m.taints ? ' ' + moduleFlags(m) : ''
    out += `${m.name} ${m.coreSize + m.initSize} ${refcount(m)} ${holders || '-'} ${state} 0x${m.address.toString(16).padStart(16, '0')}${flags}\n`
  }
  return out
}

/** `path` (normalized) under /sys/module/<name>: the name and the parts below it. */
function underSysModule(path: string): { name: string; rest: string[] } | undefined {
  if (!path.startsWith('/sys/module/')) return undefined
  const parts = path.slice('/sys/module/'.length).split('/')
  const name = parts[0]!
  return name === '' ? undefined : { name, rest: parts.slice(1) }
}

function sysModule(k: KernelState, path: string): { mod: SimModule; rest: string[] } | undefined {
  const at = underSysModule(path)
  if (!at) return undefined
  const mod = findModule(k, at.name, false)
  return mod && mod.state !== 'gone' ? { mod, rest: at.rest } : undefined
}

function visibleParams(m: SimModule) {
  return m.params.filter((p) => p.perm !== 0)
}

function initstate(m: SimModule): string {
  return m.state === 'live' ? 'live' : m.state === 'coming' ? 'coming' : 'going'
}

/** A built-in module's /sys/module directory (none when a module of that name is loaded: it cannot be). */
function sysBuiltin(k: KernelState, path: string): { mod: BuiltinModule; rest: string[] } | undefined {
  const at = underSysModule(path)
  if (!at) return undefined
  const mod = bootOf(k).builtins.get(at.name)
  return mod ? { mod, rest: at.rest } : undefined
}

function readBuiltin(k: KernelState, p: string): string | undefined {
  const b = sysBuiltin(k, p)
  if (!b) return undefined
  const { mod, rest } = b
  if (rest.length === 1 && rest[0] === 'version' && mod.version !== undefined) return `${mod.version}\n`
  if (rest.length === 2 && rest[0] === 'parameters') {
    const param = mod.params.find((q) => q.name === rest[1])
    return param ? formatParam(param) : undefined
  }
  return undefined
}

/** Text of a file under /proc or /sys, or undefined. */
export function readFile(k: KernelState, path: string): string | undefined {
  const p = normalize(path)
  if (p === '/proc/cmdline') return `${bootOf(k).cmdline}\n`
  if (p === '/proc/version') {
    const v = bootOf(k).procVersion
    if (v === undefined) k.notes.push(noViewsNote(k.profile.release))
    return v
  }
  if (p === '/proc/modules') return procModules(k)
  if (p === '/proc/sys/kernel/tainted') return `${k.tainted}\n`
  if (p === '/proc/sys/kernel/modules_disabled') return `${k.modulesDisabled ? 1 : 0}\n`
  // What modules registered (crypto, block, net, misc, filesystems, sysfs directories): sim/kapi's registries.
  const registered = REGISTRY_PATH.test(p) ? machineOf(k).api.views.read(p) : undefined
  if (registered !== undefined) return registered
  const s = sysModule(k, p)
  if (!s) return readBuiltin(k, p)
  const { mod, rest } = s
  if (rest.length === 1) {
    switch (rest[0]) {
      case 'refcnt':
        return `${refcount(mod)}\n`
      case 'initstate':
        return `${initstate(mod)}\n`
      case 'taint':
        return `${moduleTaintLetters(mod.taints)}\n`
      case 'coresize':
        return `${mod.coreSize}\n`
      case 'initsize':
        return `${mod.initSize}\n`
      case 'version':
        return mod.version === undefined ? undefined : `${mod.version}\n`
      case 'srcversion':
        return mod.srcversion === undefined ? undefined : `${mod.srcversion}\n`
      default:
        return undefined
    }
  }
  if (rest.length === 2 && rest[0] === 'parameters') {
    const param = visibleParams(mod).find((q) => q.name === rest[1])
    // param_get_*() reads the module's own variable, which its code may have changed.
    if (param) readParamFromModule(k, mod, param)
    return param ? formatParam(param) : undefined
  }
  return undefined
}

/** Entries of a directory under /proc or /sys, sorted as `ls` shows them. */
export function listDir(k: KernelState, path: string): string[] | undefined {
  const p = normalize(path)
  if (p === '/sys/module') {
    const loaded = k.modules.filter((m) => m.state !== 'unformed' && m.state !== 'gone').map((m) => m.name)
    return [...new Set([...loaded, ...bootOf(k).builtins.keys()])].sort()
  }
  if (p === '/proc') return ['cmdline', 'modules', 'sys', 'version']
  if (p === '/proc/sys') return ['kernel']
  if (p === '/proc/sys/kernel') return ['modules_disabled', 'tainted']
  const registered = REGISTRY_PATH.test(p) ? machineOf(k).api.views.list(p) : undefined
  if (registered !== undefined) return registered
  const s = sysModule(k, p)
  if (!s) return listBuiltin(k, p)
  const { mod, rest } = s
  if (rest.length === 0) {
    const names = ['coresize', 'holders', 'initsize', 'initstate', 'notes', 'refcnt', 'sections', 'taint', 'uevent']
    if (visibleParams(mod).length) names.push('parameters')
    if (mod.version !== undefined) names.push('version')
    if (mod.srcversion !== undefined) names.push('srcversion')
    return names.sort()
  }
  // readdir of sysfs: kernfs's name-hash order, which lsmod and rmmod's "in use by" print as they read it.
  if (rest.length === 1 && rest[0] === 'holders') return kernfsOrder(mod.sources.map((h) => h.name))
  if (rest.length === 1 && rest[0] === 'parameters' && visibleParams(mod).length) {
    return visibleParams(mod)
      .map((q) => q.name)
      .sort()
  }
  if (rest.length === 1 && (rest[0] === 'notes' || rest[0] === 'sections')) return []
  return undefined
}

function listBuiltin(k: KernelState, p: string): string[] | undefined {
  const b = sysBuiltin(k, p)
  if (!b) return undefined
  const { mod, rest } = b
  if (rest.length === 0) return [...mod.entries].sort()
  if (rest.length === 1 && rest[0] === 'parameters' && mod.entries.includes('parameters')) return mod.params.map((q) => q.name).sort()
  if (rest.length === 1 && rest[0] === 'drivers' && mod.drivers) return [...mod.drivers].sort()
  return undefined
}

/** A write to /sys (module parameters) or /proc/sys/kernel/modules_disabled: 0 or -errno. */
export function writeFile(k: KernelState, path: string, data: string): number {
  const p = normalize(path)
  if (p === '/proc/sys/kernel/modules_disabled') {
    // Like the sysctl: it can only be turned on, once.
    const v = data.trim()
    if (v !== '0' && v !== '1') return -EINVAL
    if (v === '0' && k.modulesDisabled) return -EINVAL
    k.modulesDisabled = v === '1'
    return 0
  }
  if (p === '/proc/modules' || p === '/proc/sys/kernel/tainted' || p === '/proc/cmdline' || p === '/proc/version') return -EACCES
  const s = sysModule(k, p)
  if (!s) {
    const b = sysBuiltin(k, p)
    if (!b) return -ENOENT
    if (b.rest[0] === 'parameters' && readBuiltin(k, p) !== undefined) {
      k.notes.push(`the simulator does not know the permissions of built-in parameter ${b.rest[1]}: it refused the write (EACCES) where the kernel may take it`)
    }
    return b.rest.length === 1 && b.rest[0] === 'uevent' ? 0 : -EACCES
  }
  const { mod, rest } = s
  if (rest.length === 2 && rest[0] === 'parameters') {
    const param = visibleParams(mod).find((q) => q.name === rest[1])
    if (!param) return -ENOENT
    if (!(param.perm & 0o222)) return -EACCES
    const ret = storeParam(param, data, k.printk, { taintUser: () => addTaint(k, TAINT_USER, false) })
    if (ret >= 0) writeParamToModule(k, mod, mod.params.indexOf(param))
    return ret
  }
  if (rest.length === 1 && rest[0] === 'uevent') return 0
  if (rest.length === 1 && readFile(k, p) !== undefined) return -EACCES
  return rest.length === 1 ? -ENOENT : -EIO
}

function normalize(path: string): string {
  // most paths are already normal (absolute, no empty, '.' or '..' parts, no trailing slash)
  if (path.startsWith('/') && !/\/\/|\/\.|.\/$/.test(path)) return path
  const out: string[] = []
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') out.pop()
    else out.push(part)
  }
  return '/' + out.join('/')
}
