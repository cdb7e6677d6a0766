/** libkmod's view of built-in modules: their `.modinfo` strings from modules.builtin.modinfo. */
import type { ToolContext } from './context.js'

/**
 * kmod_builtin_get_modinfo: the first run of consecutive `<name>.<key>=<value>` strings of
 * `<dir>/modules.builtin.modinfo`, as `{ key, value }`; none when the file or the module is missing
 * (modinfo then prints only the name and "(builtin)", as kmod 30 does).
 * @example builtinModinfo(ctx, '/lib/modules/6.1.0-56-amd64', 'unix') // [{ key: 'alias', value: 'net-pf-1' }, ...]
 */
export function builtinModinfo(ctx: ToolContext, dir: string, name: string): Array<{ key: string; value: string }> {
  let text: string
  try {
    text = Buffer.from(ctx.vfs.readFile(`${dir}/modules.builtin.modinfo`)).toString('latin1')
  } catch {
    return []
  }
  const out: Array<{ key: string; value: string }> = []
  let inRun = false
  for (const s of text.split('\0')) {
    const dot = s.indexOf('.')
    const owner = dot < 0 ? s : s.slice(0, dot)
    if (owner !== name) {
      if (inRun) break
      continue
    }
    inRun = true
    const rest = s.slice(dot + 1)
    const eq = rest.indexOf('=')
    out.push(eq < 0 ? { key: rest, value: '' } : { key: rest.slice(0, eq), value: Buffer.from(rest.slice(eq + 1), 'latin1').toString('utf8') })
  }
  return out
}
