/** kmod 30's modinfo: `.modinfo` fields of a module file, or of a module found by name or alias. */
import { readModuleSignature } from '../../elf/signature.js'
import { abspath, type Tool, type ToolContext } from './context.js'
import { strerror } from './errors.js'
import { parseToolOptions } from './getopt.js'
import { ModuleDb, moduleDir, pathToModname, type KmodModule } from './kmodlib.js'
import { kmodFileOpen } from './decompress.js'
import { KmodAbort, KmodElf, kmodElfNew } from '../../elf/kmod.js'
import { decodeRaw, encodeRaw, rawLength } from '../../elf/rawtext.js'
import { builtinModinfo } from './builtin.js'

/** What a shell reports for a process killed by SIGABRT (128 + 6): libkmod's failed assert(). */
const ABORT_EXIT = 134

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

/** modinfo's options as kmod 30 declares them (getopt_long's short string and long table); the qemu backend parses with them too. */
export const modinfoOptions = { short: 'adlpn0mF:k:b:Vh', longs: LONGS }

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

/** glibc's stdout on a pipe: what abort() loses is what was still in the 4 KiB buffer. */
class Stdout {
  text = ''
  write(t: string): void {
    this.text += t
  }
  /** The part that reached the pipe before an abort (whole 4 KiB blocks, the last full one still buffered). */
  flushedBeforeAbort(): string {
    const bytes = encodeRaw(this.text)
    const kept = Math.max(0, Math.floor((bytes.length - 1) / 4096) * 4096)
    return decodeRaw(bytes, 0, kept)
  }
}

/** What modinfo_do() gives back: 0, a negative errno, or the libkmod assertion that aborts the process. */
type ShowResult = number | KmodAbort

function show(ctx: ToolContext, out: Stdout, mod: KmodModule, o: Opts): ShowResult {
  const { field, sep } = o
  let filename = mod.path
  if (filename === undefined) {
    if (field === undefined) out.write(`${'name:'.padEnd(16)}${mod.name}${sep}`)
    else if (field === 'name') out.write(`${mod.name}${sep}`)
    filename = '(builtin)'
  }
  if (field === 'filename') {
    out.write(`${filename}${sep}`)
    return 0
  }
  if (field === undefined) out.write(`${'filename:'.padEnd(16)}${filename}${sep}`)
  const got = mod.path === undefined ? builtinModinfo(ctx, mod.dir ?? '', mod.name) : moduleInfo(ctx, mod.path)
  if (got instanceof KmodAbort) return got
  if (typeof got === 'number') {
    ctx.err(`modinfo: ERROR: could not get modinfo from '${mod.name}': ${strerror(got)}\n`)
    return got
  }
  const entries = got
  if (field === 'parm') {
    for (const p of collectParams(entries, ctx)) out.write(paramText(p) + sep)
    return 0
  }
  let text = ''
  for (const { key, value } of entries) {
    if (field !== undefined) {
      if (key === field) text += value + sep
      continue
    }
    if (key === 'parm' || key === 'parmtype') continue
    // printf("%s:%-*s%s", key, 15 - keylen, "", value): a negative width pads to its absolute value.
    text += sep === '\0' ? `${key}=${value}${sep}` : `${key}:${' '.repeat(Math.abs(15 - rawLength(key)))}${value}${sep}`
  }
  if (field === undefined) {
    for (const p of collectParams(entries, ctx)) text += `${'parm:'.padEnd(16)}${paramText(p, true)}${sep}`
  }
  out.write(text)
  return 0
}

/**
 * kmod_module_get_info() on a file: `.modinfo` as libkmod splits it (raw bytes kept), then the
 * signature's fields; a negative errno, or the assertion libkmod aborts on.
 */
function moduleInfo(ctx: ToolContext, path: string): Array<{ key: string; value: string }> | number | KmodAbort {
  const file = kmodFileOpen(ctx, abspath(ctx, path))
  if (!file.bytes) return file.err
  const bytes = file.bytes
  const elf = kmodElfNew(bytes)
  if (!(elf instanceof KmodElf)) return elf
  const strings = elf.strings('.modinfo')
  if (!Array.isArray(strings)) return strings
  const entries = strings.map((s) => {
    const eq = s.indexOf('=')
    return eq < 0 ? { key: s, value: '' } : { key: s.slice(0, eq), value: s.slice(eq + 1) }
  })
  return [...entries, ...signatureEntries(bytes)]
}

/** path_ends_with_kmod_ext() of Debian's kmod 30 (built without zlib: .ko.gz is no module name). */
function hasKmodExt(path: string): boolean {
  return ['.ko', '.ko.xz', '.ko.zst'].some((e) => path.length > e.length && path.endsWith(e))
}

/** path_make_absolute_cwd(): an absolute path as given, else cwd + '/' + path, never normalized. */
function libkmodAbsolute(ctx: ToolContext, path: string): string {
  return path.startsWith('/') ? path : `${ctx.cwd}/${path}`
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
  const parsed = parseToolOptions((text) => ctx.err(text), argv[0] ?? 'modinfo', argv.slice(1), modinfoOptions.short, modinfoOptions.longs)
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
  // The module database (config, indexes) is read only when an argument is a name, not a file.
  let db: ModuleDb | undefined
  // kmod_new(dirname, &null_config): modinfo reads no modprobe.d, only the indexes (and modules.softdep).
  const getDb = () => (db ??= new ModuleDb(ctx, dir, []))
  const out = new Stdout()
  let failed = false
  const run = (m: KmodModule): boolean => {
    const r = show(ctx, out, m, o)
    if (r instanceof KmodAbort) {
      ctx.out(out.flushedBeforeAbort())
      ctx.err(r.message('modinfo'))
      return false
    }
    if (r < 0) failed = true
    return true
  }
  for (const name of parsed.operands) {
    const abs = abspath(ctx, name)
    if (!byName && ctx.vfs.stat(abs)?.type === 'file' && hasKmodExt(name)) {
      if (!run({ name: pathToModname(name), path: libkmodAbsolute(ctx, name) })) return ABORT_EXIT
      continue
    }
    const mods = byName ? [getDb().byName(name)].filter((m) => m.path || m.builtin) : getDb().lookup(name)
    if (mods.length === 0) {
      ctx.err(byName ? `modinfo: ERROR: Module name ${name} not found.\n` : `modinfo: ERROR: Module ${name} not found.\n`)
      failed = true
      continue
    }
    for (const m of mods) if (!run(m)) return ABORT_EXIT
  }
  ctx.out(out.text)
  return failed ? 1 : 0
}
