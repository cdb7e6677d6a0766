/** The commands of the script language, by name, as the simulated machine runs them. */
import { BackendError } from '../../backends/types.js'
import type { Tool, ToolContext } from './context.js'
import { depmod } from './depmod.js'
import { dmesg } from './dmesg.js'
import { cat, cp, echo, ls, mkdir, rm } from './files.js'
import { insmod } from './insmod.js'
import { lsmod } from './lsmod.js'
import { modinfo } from './modinfo.js'
import { modprobe } from './modprobe.js'
import { rmmod } from './rmmod.js'

export type { Tool, ToolContext } from './context.js'

export const tools: Record<string, Tool> = { insmod, rmmod, lsmod, modinfo, modprobe, depmod, dmesg, cat, ls, mkdir, cp, rm, echo }

/** Run one command. One outside the script language is refused as every other backend refuses it. */
export function runTool(ctx: ToolContext, argv: string[]): number {
  const name = argv[0] ?? ''
  const tool = Object.hasOwn(tools, name) ? tools[name] : undefined
  if (!tool) throw new BackendError(`unknown command '${name}': the sim backend runs ${Object.keys(tools).join(', ')}`, 'usage')
  return tool(ctx, argv)
}
