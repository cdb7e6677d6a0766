/** kmod 30's modinfo: `.modinfo` fields of a module file, or of a module found by name or alias. */
import { readModuleSignature } from '../../elf/signature.js'
import { abspath, type Tool, type ToolContext } from './context.js'
import { strerror } from './errors.js'
import { parseToolOptions } from './getopt.js'
import { hasModuleExt, loadModuleFile, ModuleDb, moduleDir, type KmodModule } from './kmodlib.js'

interface Opts {
  field?: string
  sep: string
}

const LONGS = [
  { name: 'author', hasArg: false, val: 'a' },
  { name: 'description', hasArg: false, val: 'd' },
  { name: 'license', hasArg: false, val: 'l' },
  { name: 'parameters', hasArg: false, val: 'p' },
  { name: 'filename', hasArg: false, val: 'n' },
  { name: 'null', hasArg: false, val: '0' },
  { name: 'modname', hasArg: false, val: 'm' },
  { name: 'field', hasArg: true, val: 'F' },
  { name: 'set-version', hasArg: true, val: 'k' },
  { name: 'basedir', hasArg: true, val: 'b' },
  { name: 'version', hasArg: false, val: 'V' },
  { name: 'help', hasArg: false, val: 'h' },
]
const FIELD_OF: Record<string, string> = { a: 'author', d: 'description', l: 'license', p: 'parm', n: 'filename' }

/** modinfo's param table: one entry per name, `parm` text and `parmtype` type; printed newest first. */
function collectParams(entries: Array<{ key: string; value: string }>, ctx: ToolContext): Array<{ name: string; param?: string; type?: string }> {
  const list: Array<{ name: string; param?: string; type?: string }> = []
  for (const { key, value } of entries) {
    if (key !== 'parm' && key !== 'parmtype') continue
    const colon = value.indexOf(':')
    if (colon < 0) {
      ctx.err(`modinfo: ERROR: Found invalid "${key}=${value}": missing ':'\n`)
      continue
    }
    const name = value.slice(0, colon)
    let it = list.find((p) => p.name === name)
    if (!it) {
      it = { name }
      list.unshift(it)
    }
    if (key === 'parm') it.param = value.slice(colon + 1)
    else it.type = value.slice(colon + 1)
  }
  return list
}

function show(ctx: ToolContext, mod: KmodModule, o: Opts): number {
  const { field, sep } = o
  let filename = mod.path
  if (filename === undefined) {
    if (field === undefined) ctx.out(`${'name:'.padEnd(16)}${mod.name}${sep}`)
    else if (field === 'name') ctx.out(`${mod.name}${sep}`)
    filename = '(builtin)'
  }
  if (field === 'filename') {
    ctx.out(`${filename}${sep}`)
    return 0
  }
  if (field === undefined) ctx.out(`${'filename:'.padEnd(16)}${filename}${sep}`)
  if (mod.path === undefined) return 0 // builtin: this kernel has no modules.builtin.modinfo in the sim
  const { info, bytes, err } = loadModuleFile(ctx, mod.path)
  if (!info || !bytes) {
    ctx.err(`modinfo: ERROR: could not get modinfo from '${mod.name}': ${strerror(err)}\n`)
    return err
  }
  const entries = [...info.modinfo, ...signatureEntries(bytes)]
  if (field === 'parm') {
    for (const p of collectParams(entries, ctx)) ctx.out(paramText(p) + sep)
    return 0
  }
  let out = ''
  for (const { key, value } of entries) {
    if (field !== undefined) {
      if (key === field) out += value + sep
      continue
    }
    if (key === 'parm' || key === 'parmtype') continue
    out += sep === '\0' ? `${key}=${value}${sep}` : `${key}:${' '.repeat(Math.max(0, 15 - key.length))}${value}${sep}`
  }
  if (field === undefined) {
    for (const p of collectParams(entries, ctx)) out += `${'parm:'.padEnd(16)}${paramText(p, true)}${sep}`
  }
  ctx.out(out)
  return 0
}

/** libkmod appends the signature's fields after .modinfo; bytes as XX:XX, 20 to a line. */
function signatureEntries(bytes: Uint8Array): Array<{ key: string; value: string }> {
  const sig = readModuleSignature(bytes)
  if (!sig) return []
  const hex = (b: Uint8Array) =>
    [...b].map((x, i) => x.toString(16).toUpperCase().padStart(2, '0') + (i < b.length - 1 ? ':' + ((i + 1) % 20 === 0 ? '\n\t\t' : '') : '')).join('')
  return [
    { key: 'sig_id', value: sig.idType },
    { key: 'signer', value: sig.signer },
    { key: 'sig_key', value: hex(sig.keyId) },
    { key: 'sig_hashalgo', value: sig.hashAlgo },
    { key: 'signature', value: hex(sig.signature) },
  ]
}

function paramText(p: { name: string; param?: string; type?: string }, long = false): string {
  if (p.param === undefined) return long ? `${p.name}:${p.type}` : `${p.name}: (${p.type})`
  if (p.type !== undefined) return `${p.name}:${p.param} (${p.type})`
  return `${p.name}:${p.param}`
}

export const modinfo: Tool = (ctx, argv) => {
  const parsed = parseToolOptions((text) => ctx.err(text), argv[0] ?? 'modinfo', argv.slice(1), 'adlpn0mF:k:b:Vh', LONGS)
  if (typeof parsed === 'number') return parsed
  const o: Opts = { sep: '\n' }
  let byName = false
  let root: string | undefined
  let release: string | undefined
  for (const { opt, arg } of parsed.opts) {
    if (FIELD_OF[opt]) o.field = FIELD_OF[opt]
    else if (opt === '0') o.sep = '\0'
    else if (opt === 'm') byName = true
    else if (opt === 'F') o.field = arg
    else if (opt === 'k') release = arg
    else if (opt === 'b') root = arg
    else if (opt === 'V') {
      ctx.out('kmod version 30\n+ZSTD +XZ -ZLIB +LIBCRYPTO -EXPERIMENTAL\n')
      return 0
    } else if (opt === 'h') {
      ctx.out('Usage:\n\tmodinfo [options] <modulename|filename> [args]\n')
      return 0
    }
  }
  if (parsed.operands.length === 0) {
    ctx.err('modinfo: ERROR: missing module or filename.\n')
    return 1
  }
  const dir = root !== undefined || release !== undefined ? moduleDir(ctx, root === undefined ? '' : abspath(ctx, root), release) : moduleDir(ctx)
  const db = new ModuleDb(ctx, dir)
  let failed = false
  for (const name of parsed.operands) {
    const abs = abspath(ctx, name)
    if (!byName && ctx.vfs.stat(abs)?.type === 'file' && hasModuleExt(name)) {
      if (show(ctx, db.fromPath(name), o) < 0) failed = true
      continue
    }
    const mods = byName ? [db.byName(name)].filter((m) => m.path || m.builtin) : db.lookup(name)
    if (mods.length === 0) {
      ctx.err(byName ? `modinfo: ERROR: Module name ${name} not found.\n` : `modinfo: ERROR: Module ${name} not found.\n`)
      failed = true
      continue
    }
    for (const m of mods) if (show(ctx, m, o) < 0) failed = true
  }
  return failed ? 1 : 0
}
