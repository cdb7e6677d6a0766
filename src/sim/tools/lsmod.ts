/** kmod 30's lsmod: /proc/modules with refcounts and holders from /sys/module, in kmod's columns. */
import type { Tool } from './context.js'
import { holders, loadedModules, refcnt } from './kmodlib.js'

export const lsmod: Tool = (ctx, argv) => {
  if (argv.length > 1 && !argv[1]!.startsWith('-')) {
    ctx.err('lsmod: ERROR: too many arguments provided.\n')
    return 1
  }
  let out = 'Module                  Size  Used by\n'
  for (const mod of loadedModules(ctx)) {
    const hs = holders(ctx, mod.name)
    // kmod_module_get_size(): /sys/module/<m>/coresize first, /proc/modules (core + init) only without it.
    const core = ctx.kernel.readFile(`/sys/module/${mod.name}/coresize`)
    const size = core === undefined ? mod.size : Number.parseInt(core, 10)
    out += `${mod.name.padEnd(19)} ${String(size).padStart(8)}  ${refcnt(ctx, mod.name)}`
    if (hs.length) out += ' ' + hs.join(',')
    out += '\n'
  }
  ctx.out(out)
  return 0
}
