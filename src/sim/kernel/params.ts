import { SHT_NOBITS, type ElfFile, type ElfRela } from '../../elf/read.js'
import type { ElfSection } from '../../elf/types.js'
import { KERN_ERR, KERN_WARNING, KERN_NOTICE, type Printk } from './printk.js'
import { errno } from './types.js'

const { EINVAL, ENOENT, ERANGE, ENOSPC, EPERM } = errno

/** Standard kernel_param_ops the simulator models, by the `param_ops_<type>` symbol. */
export type ParamType =
  'byte' | 'short' | 'ushort' | 'int' | 'uint' | 'long' | 'ulong' | 'ullong' | 'hexint' | 'charp' | 'bool' | 'invbool' | 'bint' | 'string' | 'custom'

/** One module parameter (struct kernel_param) and its current value. */
export interface ParamInstance {
  name: string
  type: ParamType
  perm: number
  /** KERNEL_PARAM_FL_UNSAFE. */
  unsafe: boolean
  /** Integers as bigint, bools as boolean, strings (charp/string/custom) as string or null (NULL). */
  value: bigint | boolean | string | null
  /** param_ops_string's buffer size (kparam_string.maxlen). */
  maxlen?: number
}

const KPARAM_SIZE = 40
/** The integer types, whose setter is kstrto*() with a range. */
type IntParamType = Exclude<ParamType, 'charp' | 'bool' | 'invbool' | 'string' | 'custom'>
const INT_RANGE: Readonly<Record<IntParamType, [bigint, bigint]>> = {
  byte: [0n, 255n],
  short: [-32768n, 32767n],
  ushort: [0n, 65535n],
  int: [-(2n ** 31n), 2n ** 31n - 1n],
  uint: [0n, 2n ** 32n - 1n],
  hexint: [0n, 2n ** 32n - 1n],
  long: [-(2n ** 63n), 2n ** 63n - 1n],
  ulong: [0n, 2n ** 64n - 1n],
  ullong: [0n, 2n ** 64n - 1n],
  bint: [-(2n ** 31n), 2n ** 31n - 1n],
}
const SIGNED = new Set(['short', 'int', 'long', 'bint'])
const WIDTH: Record<string, number> = { byte: 1, short: 2, ushort: 2, int: 4, uint: 4, hexint: 4, bint: 4, long: 8, ulong: 8, ullong: 8 }

/**
 * The module's __param array as the loader finds it (find_module_sections): each entry's
 * name, ops type, perm and the initial value of its variable, read through relocations.
 */
export function readParams(elf: ElfFile, sec: ElfSection | undefined): ParamInstance[] {
  if (!sec || sec.size < KPARAM_SIZE) return []
  const data = elf.sectionData(sec)
  const relocs = new Map<number, ElfRela>()
  for (const r of elf.relocationsFor(sec)) relocs.set(r.offset, r)
  const out: ParamInstance[] = []
  const n = Math.floor(sec.size / KPARAM_SIZE)
  for (let k = 0; k < n; k++) {
    const base = k * KPARAM_SIZE
    const nameAt = target(elf, relocs.get(base))
    const name = nameAt && 'sec' in nameAt ? elf.stringAt(nameAt.sec, nameAt.off) : `param${k}`
    const opsAt = target(elf, relocs.get(base + 16))
    const opsName = opsAt && 'name' in opsAt ? opsAt.name : ''
    const type = (/^param_ops_(\w+)$/.exec(opsName)?.[1] ?? 'custom') as ParamType
    const known = type in INT_RANGE || ['charp', 'bool', 'invbool', 'string'].includes(type)
    // A __param that is SHT_NOBITS has no bytes: perm and flags read as 0.
    const perm = (data[base + 24] ?? 0) | ((data[base + 25] ?? 0) << 8)
    const p: ParamInstance = { name, type: known ? type : 'custom', perm, unsafe: ((data[base + 27] ?? 0) & 1) !== 0, value: null }
    const argAt = target(elf, relocs.get(base + 32))
    if (argAt && 'sec' in argAt) initialValue(elf, p, argAt.sec, argAt.off)
    out.push(p)
  }
  return out
}

type Target = { sec: ElfSection; off: number } | { name: string }

/** Where a relocation points: a place in one of the module's sections, or an external symbol. */
function target(elf: ElfFile, r: ElfRela | undefined): Target | undefined {
  if (!r) return undefined
  const raw = elf.symbolRaw(r.sym)
  if (raw.shndx === 0) return { name: elf.symbolName(r.sym) }
  const sec = elf.sections[raw.shndx]
  return sec && { sec, off: Number(raw.value) + r.addend }
}

function initialValue(elf: ElfFile, p: ParamInstance, sec: ElfSection, off: number): void {
  const nobits = sec.type === SHT_NOBITS
  const bytes = nobits ? undefined : elf.sectionData(sec)
  const readUint = (o: number, w: number): bigint => {
    if (!bytes || o < 0 || o + w > bytes.length) return 0n
    let v = 0n
    for (let i = w - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[o + i]!) // o + w <= bytes.length
    return v
  }
  const pointee = (o: number): string | null => {
    const at = nobits
      ? undefined
      : target(
          elf,
          elf.relocationsFor(sec).find((r) => r.offset === o),
        )
    return at && 'sec' in at ? elf.stringAt(at.sec, at.off) : null
  }
  const w = WIDTH[p.type]
  if (w !== undefined) {
    let v = readUint(off, w)
    if (SIGNED.has(p.type)) v = BigInt.asIntN(w * 8, v)
    p.value = v
  } else if (p.type === 'bool' || p.type === 'invbool') p.value = readUint(off, 1) !== 0n
  else if (p.type === 'charp') p.value = pointee(off)
  else if (p.type === 'string') {
    p.maxlen = Number(readUint(off, 4))
    const at =
      pointee(off + 8) === null
        ? undefined
        : target(
            elf,
            elf.relocationsFor(sec).find((r) => r.offset === off + 8),
          )
    p.value = at && 'sec' in at ? (at.sec.type === SHT_NOBITS ? '' : elf.stringAt(at.sec, at.off)) : ''
  }
}

/** param_get_*(): the text of /sys/module/<m>/parameters/<p>. */
export function formatParam(p: ParamInstance): string {
  const v = p.value
  switch (p.type) {
    case 'bool':
      return (v ? 'Y' : 'N') + '\n'
    case 'invbool':
      return (v ? 'N' : 'Y') + '\n'
    case 'charp':
      return (v === null ? '(null)' : String(v)) + '\n'
    case 'string':
    case 'custom':
      return (v === null ? '' : String(v)) + '\n'
    case 'hexint': {
      const n = v as bigint
      return (n === 0n ? '00000000' : '0x' + n.toString(16).padStart(6, '0')) + '\n'
    }
    default:
      return String(v) + '\n'
  }
}

/** ops->set(): 0 or -errno, may log like the kernel's setters. */
export function setParam(p: ParamInstance, val: string | null, log: Printk): number {
  switch (p.type) {
    case 'bool':
    case 'invbool': {
      const b = strtobool(val ?? '1')
      if (b === undefined) return -EINVAL
      p.value = p.type === 'bool' ? b : !b
      return 0
    }
    case 'bint': {
      const b = strtobool(val ?? '1')
      if (b === undefined) return -EINVAL
      p.value = b ? 1n : 0n
      return 0
    }
    case 'charp':
      if (val === null) return -EINVAL
      if (val.length > 1024) {
        log.log(KERN_ERR, `${p.name}: string parameter too long`)
        return -ENOSPC
      }
      p.value = val
      return 0
    case 'string': {
      if (val === null) return -EINVAL
      const maxlen = p.maxlen ?? 1024
      if (val.length + 1 > maxlen) {
        log.log(KERN_ERR, `${p.name}: string doesn't fit in ${maxlen - 1} chars.`)
        return -ENOSPC
      }
      p.value = val
      return 0
    }
    case 'custom':
      p.value = val
      return 0
    default: {
      if (val === null) return -EINVAL
      const r = kstrto(val, SIGNED.has(p.type), INT_RANGE[p.type])
      if (typeof r === 'number') return r
      p.value = r
      return 0
    }
  }
}

/** bool, invbool and bint take no value ("verbose" alone means set). */
function takesNoArg(p: ParamInstance): boolean {
  return p.type === 'bool' || p.type === 'invbool' || p.type === 'bint'
}

/** kstrtobool(). */
function strtobool(s: string): boolean | undefined {
  const c = s[0]
  if ('yYtT1'.includes(c ?? '#')) return true
  if ('nNfF0'.includes(c ?? '#')) return false
  if (c === 'o' || c === 'O') {
    if (s[1] === 'n' || s[1] === 'N') return true
    if (s[1] === 'f' || s[1] === 'F') return false
  }
  return undefined
}

/** kstrtoll()/kstrtoull() with base 0, then the type's range check. */
function kstrto(s0: string, signed: boolean, range: [bigint, bigint]): bigint | number {
  let s = s0
  let neg = false
  if (signed && s[0] === '-') {
    neg = true
    s = s.slice(1)
  } else if (s[0] === '+') s = s.slice(1)
  let base = 10
  if (s[0] === '0') {
    if ((s[1] === 'x' || s[1] === 'X') && /[0-9a-fA-F]/.test(s[2] ?? '')) {
      base = 16
      s = s.slice(2)
    } else base = 8
  }
  let i = 0
  let v = 0n
  const B = BigInt(base)
  for (; i < s.length; i++) {
    const d = parseInt(s[i]!, 16)
    if (Number.isNaN(d) || d >= base) break
    v = v * B + BigInt(d)
    if (v > 2n ** 64n - 1n) return -ERANGE
  }
  if (i === 0) return -EINVAL
  if (s[i] === '\n') i++
  if (i < s.length) return -EINVAL
  if (neg) {
    if (v > 2n ** 63n) return -ERANGE
    v = -v
  } else if (signed && v > 2n ** 63n - 1n) return -ERANGE
  if (v < range[0] || v > range[1]) return -ERANGE
  return v
}

const dash = (s: string) => s.replace(/-/g, '_')

/** next_arg() of lib/cmdline-ish kernel/params.c: one "param[=value]" word, quotes honoured. */
function nextArg(args: string): { param: string; val: string | null; rest: string } {
  let a = args
  let inQuote = false
  let quoted = false
  if (a[0] === '"') {
    a = a.slice(1)
    inQuote = true
    quoted = true
  }
  let i = 0
  let equals = 0
  for (; i < a.length; i++) {
    if (/\s/.test(a[i]!) && !inQuote) break
    if (equals === 0 && a[i] === '=') equals = i
    if (a[i] === '"') inQuote = !inQuote
  }
  let word = a.slice(0, i)
  const rest = a.slice(i + (i < a.length ? 1 : 0)).replace(/^\s+/, '')
  let param: string
  let val: string | null = null
  if (!equals) {
    if (quoted && word.endsWith('"')) word = word.slice(0, -1)
    param = word
  } else {
    param = word.slice(0, equals)
    val = word.slice(equals + 1)
    if (val.startsWith('"')) {
      val = val.slice(1)
      if (word.endsWith('"')) val = val.slice(0, -1)
    } else if (quoted && word.endsWith('"')) val = val.slice(0, -1)
  }
  return { param, val, rest }
}

export interface ParseArgsHooks {
  /** Taint for KERNEL_PARAM_FL_UNSAFE parameters. */
  taintUser(): void
}

/**
 * parse_args() for a module (kernel/params.c + unknown_module_param_cb): sets the known
 * parameters, warns about unknown ones, logs invalid values; returns 0 or the last -errno.
 */
export function parseModuleArgs(mod: string, args: string, params: ParamInstance[], log: Printk, hooks: ParseArgsHooks): number {
  let rest = args.replace(/^\s+/, '')
  let err = 0
  while (rest.length > 0) {
    const { param, val, rest: next } = nextArg(rest)
    rest = next
    if (val === null && param === '--') {
      if (err) return err
      if (rest) log.log(KERN_WARNING, `${mod}: parameters '${rest}' after \`--' ignored`)
      return 0
    }
    let ret: number
    const p = params.find((q) => dash(q.name) === dash(param))
    if (p) {
      if (val === null && !takesNoArg(p)) ret = -EINVAL
      else if (p.unsafe) {
        log.log(KERN_NOTICE, `Setting dangerous option ${p.name} - tainting kernel`)
        hooks.taintUser()
        ret = setParam(p, val, log)
      } else ret = setParam(p, val, log)
    } else ret = unknownParam(mod, param, log)
    if (ret === 0) continue
    if (ret === -ENOENT) log.log(KERN_ERR, `${mod}: Unknown parameter \`${param}'`)
    else if (ret === -ENOSPC) log.log(KERN_ERR, `${mod}: \`${val ?? ''}' too large for parameter \`${param}'`)
    else log.log(KERN_ERR, `${mod}: \`${val ?? ''}' invalid for parameter \`${param}'`)
    err = ret
  }
  return err
}

/** unknown_module_param_cb(): async_probe and dyndbg are taken, anything else is ignored with a warning. */
function unknownParam(mod: string, param: string, log: Printk): number {
  if (param === 'async_probe') return 0
  const dot = param.indexOf('.')
  const name = dot >= 0 ? param.slice(0, dot) : param
  const tail = dot >= 0 ? param.slice(dot + 1) : param
  if (tail === 'dyndbg') return 0
  // ddebug_dyndbg_module_param_cb() cut the name at the dot before the warning prints it.
  log.log(KERN_WARNING, `${mod}: unknown parameter '${name}' ignored`)
  return 0
}

/** param_attr_store(): a write to /sys/module/<m>/parameters/<p>. */
export function storeParam(p: ParamInstance, data: string, log: Printk, hooks: ParseArgsHooks): number {
  if (p.unsafe) {
    log.log(KERN_NOTICE, `Setting dangerous option ${p.name} - tainting kernel`)
    hooks.taintUser()
  }
  const r = setParam(p, data, log)
  return r === 0 ? 0 : r === -EPERM ? -EPERM : r
}
