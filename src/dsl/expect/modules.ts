import { parseHolders, parseRefcnt } from '../../observe/index.js'
import { checkHolders, checkLoaded, checkLoadOrder, checkNotLoaded, checkRefcount, type CheckResult, type LoadedOptions } from '../checks/index.js'
import type { RunContext } from '../context.js'
import { StepFailure } from '../errors.js'

export type { LoadedOptions } from '../checks/index.js'

function verdict(r: CheckResult): void {
  if (!r.pass) throw new StepFailure(r.expected, r.received)
}

/** From /proc/modules: the module is loaded (Live) and, if given, has this refcount and these holders. */
export async function expectLoaded(ctx: RunContext, name: string, options: LoadedOptions = {}): Promise<void> {
  verdict(checkLoaded(await ctx.procModules(), name, options))
}

/** From /proc/modules: the module is not loaded. */
export async function expectNotLoaded(ctx: RunContext, name: string): Promise<void> {
  verdict(checkNotLoaded(await ctx.procModules(), name))
}

/** From /sys/module/<name>/refcnt. */
export async function expectRefcount(ctx: RunContext, name: string, refcount: number): Promise<void> {
  const result = await ctx.probe(['cat', `/sys/module/${name}/refcnt`])
  verdict(checkRefcount(result.exitCode === 0 ? parseRefcnt(result.stdout) : undefined, refcount, `no /sys/module/${name}/refcnt (${name} is not loaded)`))
}

/** From /sys/module/<name>/holders (what lsmod lists after the count), in any order. */
export async function expectHolders(ctx: RunContext, name: string, holders: string[]): Promise<void> {
  const result = await ctx.probe(['ls', `/sys/module/${name}/holders`])
  verdict(checkHolders(result.exitCode === 0 ? parseHolders(result.stdout) : undefined, holders, `no /sys/module/${name}/holders (${name} is not loaded)`))
}

/** The listed modules appeared in /proc/modules in this order during the run (others are ignored). */
export async function expectLoadOrder(ctx: RunContext, names: string[]): Promise<void> {
  verdict(checkLoadOrder(ctx.loadOrder ?? [], names))
}
