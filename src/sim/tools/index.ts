/** The commands of the script language, by name, as the simulated machine runs them. */
import { unknownCommandError } from '../../contract/script.js'
import type { Tool, ToolContext } from './context.js'
import { toolTable } from './table.js'

export type { Tool, ToolContext } from './context.js'

export const tools: Record<string, Tool> = toolTable()

/** Run one command. One outside the script language is refused as every other backend refuses it. */
export function runTool(ctx: ToolContext, argv: string[]): number {
  const name = argv[0] ?? ''
  const tool = Object.hasOwn(tools, name) ? tools[name] : undefined
  if (!tool) throw unknownCommandError(name, 'sim')
  return tool(ctx, argv)
}
