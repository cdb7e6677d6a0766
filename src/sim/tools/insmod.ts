/** kmod 30's insmod: load one module file through finit_module, as `insmod [-f] FILE [ARGS]`. */
import { MODULE_INIT_IGNORE_MODVERSIONS, MODULE_INIT_IGNORE_VERMAGIC } from '../kernel/types.js'
import { kmodFileOpen } from './decompress.js'
import { abspath, type Tool, type ToolContext } from './context.js'
import { errno, insmodStrerror, strerror } from './errors.js'
import { parseToolOptions } from './getopt.js'

const HELP = `Usage:\n\t%s [options] filename [args]\nOptions:\n\t-V, --version     show version\n\t-h, --help        show this help\n`

/** kmod_module_insert_module: finit_module on the file; init_module when the kernel lacks it. */
export function insertModuleFile(ctx: ToolContext, absPath: string, args: string, force: boolean): number {
  const file = kmodFileOpen(ctx, absPath)
  const image = file.bytes
  if (!image) return file.err
  // a compressed module goes decompressed to init_module; with -f kmod strips __versions and
  // vermagic first, which the kernel treats exactly as the finit_module IGNORE flags below
  if (!file.direct && !force) return ctx.kernel.initModule(image, args)
  const flags = force ? MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC : 0
  const err = ctx.kernel.finitModule(image, args, flags)
  if (err !== -errno.ENOSYS) return err
  return ctx.kernel.initModule(image, args)
}

export const insmod: Tool = (ctx, argv) => {
  const prog = 'insmod'
  const parsed = parseToolOptions((text) => ctx.err(text), argv[0] ?? prog, argv.slice(1), 'psfVh', [
    { name: 'version', hasArg: false, val: 'V' },
    { name: 'help', hasArg: false, val: 'h' },
  ])
  if (typeof parsed === 'number') return parsed
  let force = false
  for (const { opt } of parsed.opts) {
    if (opt === 'f') force = true
    else if (opt === 'h') {
      ctx.out(HELP.replace('%s', prog))
      return 0
    } else if (opt === 'V') {
      ctx.out('kmod version 30\n+ZSTD +XZ -ZLIB +LIBCRYPTO -EXPERIMENTAL\n')
      return 0
    }
  }
  const [filename, ...rest] = parsed.operands
  if (filename === undefined) {
    ctx.err(`${prog}: ERROR: missing filename.\n`)
    return 1
  }
  if (filename === '-') {
    ctx.err(`${prog}: ERROR: this tool does not support loading from stdin!\n`)
    return 1
  }
  const abs = abspath(ctx, filename)
  if (!ctx.vfs.stat(abs)) {
    ctx.err(`${prog}: ERROR: could not load module ${filename}: ${strerror(errno.ENOENT)}\n`)
    return 1
  }
  const err = insertModuleFile(ctx, abs, rest.join(' '), force)
  if (err < 0) {
    ctx.err(`${prog}: ERROR: could not insert module ${filename}: ${insmodStrerror(err)}\n`)
    return 1
  }
  return 0
}
