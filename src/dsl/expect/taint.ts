import { parseModuleTaint, parseTainted } from '../../observe/index.js'
import { checkNotTainted, checkTainted } from '../checks/index.js'
import type { RunContext } from '../context.js'
import { StepFailure } from '../errors.js'

/** The kernel (or, with `module`, that module) carries every taint letter given, e.g. 'OE'. */
export async function expectTainted(ctx: RunContext, flags: string, options: { module?: string } = {}): Promise<void> {
  const file = options.module ? `/sys/module/${options.module}/taint` : '/proc/sys/kernel/tainted'
  const result = await ctx.probe(['cat', file])
  const letters = result.exitCode !== 0 ? undefined : options.module ? parseModuleTaint(result.stdout) : parseTainted(result.stdout)
  const r = checkTainted(letters, flags, options.module ?? 'kernel', `no ${file}${options.module ? ` (${options.module} is not loaded)` : ''}`)
  if (!r.pass) throw new StepFailure(r.expected, r.received)
}

/** The kernel carries no taint at all. */
export async function expectNotTainted(ctx: RunContext): Promise<void> {
  const result = await ctx.probe(['cat', '/proc/sys/kernel/tainted'])
  const r = checkNotTainted(result.exitCode === 0 ? parseTainted(result.stdout) : '?')
  if (!r.pass) throw new StepFailure(r.expected, r.received)
}
