/** The commands of the script language, by name, as the simulated machine runs them. */
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

/** Run one command; an unknown one fails as the VM's shell says it. */
export function runTool(ctx: ToolContext, argv: string[]): number {
  const name = argv[0] ?? ''
  const tool = Object.hasOwn(tools, name) ? tools[name] : undefined
  if (!tool) {
    ctx.err(`sh: ${name}: not found\n`)
    return 127
  }
  return tool(ctx, argv)
}
