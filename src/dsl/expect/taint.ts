import { hasTaint, parseModuleTaint, parseTainted } from '../../observe/index.js'
import type { RunContext } from '../context.js'
import { StepFailure } from '../errors.js'

/** The kernel (or, with `module`, that module) carries every taint letter given, e.g. 'OE'. */
export async function expectTainted(ctx: RunContext, flags: string, options: { module?: string } = {}): Promise<void> {
  const whose = options.module ? `${options.module} ` : 'kernel '
  const wanted = `${whose}taint including ${flags === '' ? '(nothing)' : flags}`
  const file = options.module ? `/sys/module/${options.module}/taint` : '/proc/sys/kernel/tainted'
  const result = await ctx.probe(['cat', file])
  if (result.exitCode !== 0) throw new StepFailure(wanted, `no ${file}${options.module ? ` (${options.module} is not loaded)` : ''}`)
  const letters = options.module ? parseModuleTaint(result.stdout) : parseTainted(result.stdout)
  if (!hasTaint(letters, flags)) throw new StepFailure(wanted, `${whose}taint ${letters === '' ? '(none)' : letters}`)
}

/** The kernel carries no taint at all. */
export async function expectNotTainted(ctx: RunContext): Promise<void> {
  const result = await ctx.probe(['cat', '/proc/sys/kernel/tainted'])
  const letters = result.exitCode === 0 ? parseTainted(result.stdout) : '?'
  if (letters !== '') throw new StepFailure('kernel not tainted', `kernel taint ${letters}`)
}
