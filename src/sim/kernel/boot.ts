/**
 * What the kernel shows of itself from boot: the command line (/proc/cmdline), /proc/version,
 * and /sys/module/<m> of its built-in modules with their parameters (values as the kernel's
 * boot-time parse_args left them: captured from the real kernel, then the command line's
 * `mod.param=value` words applied). The captured views live in profiles/<release>.kernel-views.json
 * (scripts/capture-kernel-views.mjs); a release without them has no /proc/version and no built-ins
 * under /sys/module, and says so in a note.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { setParam, type ParamInstance, type ParamType } from './params.js'
import type { KernelState } from './state.js'

interface CapturedViews {
  release: string
  capturedWithCmdline: string
  procVersion: string
  sysModule: Record<string, { entries: string[]; params: Record<string, { value: string; type?: string }>; version?: string; drivers?: string[] }>
}

export interface BuiltinModule {
  entries: string[]
  params: ParamInstance[]
  version?: string
  drivers?: string[]
}

export interface Boot {
  cmdline: string
  procVersion?: string
  builtins: BuiltinModules
}

type CapturedModule = CapturedViews['sysModule'][string]

/**
 * The kernel's built-in modules (a few hundred): each one's parameters are made on first read, so a
 * kernel that never looks under /sys/module at a built-in pays nothing for them.
 */
export class BuiltinModules {
  private readonly made = new Map<string, BuiltinModule>()
  constructor(private readonly captured: Record<string, CapturedModule>) {}

  get(name: string): BuiltinModule | undefined {
    const known = this.made.get(name)
    if (known) return known
    const m = Object.hasOwn(this.captured, name) ? this.captured[name] : undefined
    if (!m) return undefined
    const made: BuiltinModule = {
      entries: m.entries,
      params: Object.entries(m.params).map(([p, v]) => param(p, v.value, v.type)),
      version: m.version,
      drivers: m.drivers,
    }
    this.made.set(name, made)
    return made
  }

  keys(): string[] {
    return Object.keys(this.captured)
  }
}

const captured = new Map<string, CapturedViews | undefined>()

function viewsOf(release: string): CapturedViews | undefined {
  if (!captured.has(release)) {
    let data: CapturedViews | undefined
    try {
      data = JSON.parse(readFileSync(fileURLToPath(new URL(`../../../profiles/${release}.kernel-views.json`, import.meta.url)), 'utf8')) as CapturedViews
    } catch {
      data = undefined
    }
    captured.set(release, data)
  }
  return captured.get(release)
}

/** modules.builtin.modinfo's parmtype names the standard ops the simulator models; others stay text. */
const TYPES: Record<string, ParamType> = {
  byte: 'byte',
  short: 'short',
  ushort: 'ushort',
  int: 'int',
  uint: 'uint',
  long: 'long',
  ulong: 'ulong',
  ullong: 'ullong',
  hexint: 'hexint',
  charp: 'charp',
  bool: 'bool',
  invbool: 'invbool',
  bint: 'bint',
  string: 'string',
}

function param(name: string, value: string, type: string | undefined): ParamInstance {
  const t = (type !== undefined && TYPES[type]) || 'custom'
  const p: ParamInstance = { name, type: t, perm: 0o444, unsafe: false, value }
  if (t === 'bool' || t === 'invbool') p.value = t === 'bool' ? value === 'Y' : value !== 'Y'
  else if (t === 'bint') p.value = value === '1'
  else if (t === 'charp') p.value = value === '(null)' ? null : value
  else if (t !== 'string' && t !== 'custom') p.value = BigInt(value)
  return p
}

const boots = new WeakMap<KernelState, Boot>()

/**
 * parse_args' next_arg(): `param[=value]` words split on blanks outside double quotes, the quotes
 * dropped around a value or a whole word; "--" ends the kernel's part (the rest goes to init).
 */
export function kernelArgs(cmdline: string): Array<{ param: string; val: string | null }> {
  const out: Array<{ param: string; val: string | null }> = []
  let s = cmdline.replace(/^\s+/, '')
  while (s.length) {
    let quoted = false
    let inQuote = false
    if (s[0] === '"') {
      s = s.slice(1)
      inQuote = quoted = true
    }
    let i = 0
    let equals = -1
    for (; i < s.length; i++) {
      if (/\s/.test(s[i]!) && !inQuote) break
      if (equals < 0 && s[i] === '=') equals = i
      if (s[i] === '"') inQuote = !inQuote
    }
    let word = s.slice(0, i)
    s = s.slice(i).replace(/^\s+/, '')
    if (quoted && word.endsWith('"')) word = word.slice(0, -1)
    if (word === '--' && !quoted) break
    let param = word
    let val: string | null = null
    if (equals >= 0 && equals < word.length) {
      param = word.slice(0, equals)
      val = word.slice(equals + 1)
      if (val.startsWith('"')) val = val.endsWith('"') && val.length > 1 ? val.slice(1, -1) : val.slice(1)
    }
    out.push({ param, val })
  }
  return out
}

/**
 * Boot `k` with a command line: built-in parameters take its `mod.param=value` words, as
 * parse_args("Booting kernel") does; other words are left to user space (modprobe reads them).
 * @example bootKernel(k, 'printk.time=0 foo.bar=1')
 */
export function bootKernel(k: KernelState, cmdline = ''): Boot {
  const data = viewsOf(k.profile.release)
  const builtins = new BuiltinModules(data?.sysModule ?? {})
  for (const { param: name, val } of kernelArgs(cmdline)) {
    const m = /^([^.]+)\.(.+)$/.exec(name)
    if (!m) continue
    const p = builtins.get(m[1]!.replace(/-/g, '_'))?.params.find((x) => x.name === m[2]!.replace(/-/g, '_'))
    if (!p) continue
    if (p.type === 'custom') {
      p.value = val ?? ''
      k.notes.push(`the kernel parses ${name} with its own setter; the simulator shows the command line's text as its value`)
    } else setParam(p, val, k.printk)
  }
  const boot: Boot = { cmdline, procVersion: data?.procVersion, builtins }
  boots.set(k, boot)
  return boot
}

/** The boot facts of `k` (booted with an empty command line when nobody booted it). */
export function bootOf(k: KernelState): Boot {
  return boots.get(k) ?? bootKernel(k)
}

/** The note for a release whose kernel views were never captured. */
export function noViewsNote(release: string): string {
  return `no captured kernel views for ${release} (profiles/${release}.kernel-views.json): /proc/version and built-in modules under /sys/module are missing; capture them with node scripts/capture-kernel-views.mjs ${release}`
}
