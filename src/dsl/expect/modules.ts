import { parseHolders, parseRefcnt } from '../../observe/index.js'
import type { RunContext } from '../context.js'
import { StepFailure } from '../errors.js'
import { formatValue } from '../format.js'

export interface LoadedOptions {
  /** The module's reference count (lsmod's Used by count). */
  refcount?: number
  /** The modules that use it, in any order (lsmod's Used by names). */
  holders?: string[]
}

function loadedList(names: string[]): string {
  return names.length === 0 ? 'nothing is loaded' : `loaded: ${names.join(', ')}`
}

/** From /proc/modules: the module is loaded (Live) and, if given, has this refcount and these holders. */
export async function expectLoaded(ctx: RunContext, name: string, options: LoadedOptions = {}): Promise<void> {
  const parts = [`${name} loaded`]
  if (options.refcount !== undefined) parts.push(`refcount ${options.refcount}`)
  if (options.holders !== undefined) parts.push(`holders [${options.holders.join(', ')}]`)
  const wanted = parts.join(', ')
  const modules = await ctx.procModules()
  const m = modules.find((x) => x.name === name)
  if (!m) throw new StepFailure(wanted, `${name} is not loaded (${loadedList(modules.map((x) => x.name))})`)
  const got = `${name} ${m.state === 'Live' ? 'loaded' : m.state}, refcount ${m.refcount}, holders [${m.holders.join(', ')}]`
  const holdersOk = options.holders === undefined || [...m.holders].sort().join(',') === [...options.holders].sort().join(',')
  if (m.state !== 'Live' || (options.refcount !== undefined && m.refcount !== options.refcount) || !holdersOk) throw new StepFailure(wanted, got)
}

/** From /proc/modules: the module is not loaded. */
export async function expectNotLoaded(ctx: RunContext, name: string): Promise<void> {
  const modules = await ctx.procModules()
  const m = modules.find((x) => x.name === name)
  if (m) throw new StepFailure(`${name} not loaded`, `${name} is loaded (${m.state}), refcount ${m.refcount}, holders [${m.holders.join(', ')}]`)
}

/** From /sys/module/<name>/refcnt. */
export async function expectRefcount(ctx: RunContext, name: string, refcount: number): Promise<void> {
  const wanted = `refcount ${refcount}`
  const result = await ctx.probe(['cat', `/sys/module/${name}/refcnt`])
  if (result.exitCode !== 0) throw new StepFailure(wanted, `no /sys/module/${name}/refcnt (${name} is not loaded)`)
  const got = parseRefcnt(result.stdout)
  if (got !== refcount) throw new StepFailure(wanted, `refcount ${got}`)
}

/** From /sys/module/<name>/holders (what lsmod lists after the count), in any order. */
export async function expectHolders(ctx: RunContext, name: string, holders: string[]): Promise<void> {
  const wanted = `holders [${[...holders].sort().join(', ')}]`
  const result = await ctx.probe(['ls', `/sys/module/${name}/holders`])
  if (result.exitCode !== 0) throw new StepFailure(wanted, `no /sys/module/${name}/holders (${name} is not loaded)`)
  const got = parseHolders(result.stdout).sort()
  if (got.join(',') !== [...holders].sort().join(',')) throw new StepFailure(wanted, `holders [${got.join(', ')}]`)
}

/** The listed modules appeared in /proc/modules in this order during the run (others are ignored). */
export async function expectLoadOrder(ctx: RunContext, names: string[]): Promise<void> {
  const wanted = `load order ${formatValue(names)}`
  const order = ctx.loadOrder ?? []
  const relevant = order.filter((n) => names.includes(n))
  if (relevant.join(',') !== names.join(',')) throw new StepFailure(wanted, `load order ${formatValue(order)}`)
}
