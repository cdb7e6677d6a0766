/** What every simulated tool is given: the machine (kernel + files) and its two output streams. */
import type { SimKernel } from '../kernel/types.js'
import type { KernelProfile } from '../../profile/types.js'
import type { Vfs } from '../vfs.js'

export interface ToolContext {
  kernel: SimKernel
  vfs: Vfs
  profile: KernelProfile
  /** `uname -r` of the simulated kernel. */
  release: string
  /** Absolute directory relative paths resolve against. */
  cwd: string
  out(text: string): void
  err(text: string): void
  /** A caveat about what the simulator could not reproduce (shown apart from the command's output). */
  note?(text: string): void
}

/** A tool: argv[0] is its name; returns the exit code. */
export type Tool = (ctx: ToolContext, argv: string[]) => number

/** Resolve a path the user gave, as the tool's process would (relative to cwd). */
export function abspath(ctx: ToolContext, path: string): string {
  return ctx.vfs.resolve(path, ctx.cwd)
}
