import type { KernelLogRecord } from '../../backends/index.js'
import { checkDmesg, checkNoDmesg, dmesgExpected } from '../checks/index.js'
import type { RunContext } from '../context.js'
import { StepFailure } from '../errors.js'
import { previousAction, showPattern, type LinePattern } from './common.js'

export interface DmesgOptions {
  /** 'action' (default): lines caused by the previous action; 'run': every line of the run so far. */
  scope?: 'action' | 'run'
  /** True: the lines must be exactly these, nothing else in between or around. */
  exact?: boolean
}

function scoped(ctx: RunContext, what: string, options: DmesgOptions): { texts: string[]; label: string } {
  const text = (records: KernelLogRecord[]) => records.map((r) => r.text)
  if (options.scope === 'run') return { texts: text(ctx.transcript.filter((e) => !e.probe).flatMap((e) => e.dmesg)), label: 'kernel log of the run' }
  const action = previousAction(ctx, what)
  return { texts: text(action.results.flatMap((r) => r.dmesg)), label: `kernel log of ${action.call}` }
}

/** Each pattern must match a line, in order (other lines may come between unless exact). */
export async function expectDmesg(ctx: RunContext, lines: LinePattern | LinePattern[], options: DmesgOptions = {}): Promise<void> {
  const patterns = Array.isArray(lines) ? lines : [lines]
  const { texts, label } = scoped(ctx, dmesgExpected(patterns, options.exact), options)
  const r = checkDmesg(texts, patterns, { exact: options.exact, label })
  if (!r.pass) throw new StepFailure(r.expected, r.received)
}

/** No line may match the pattern. */
export async function expectNoDmesg(ctx: RunContext, pattern: LinePattern, options: Pick<DmesgOptions, 'scope'> = {}): Promise<void> {
  const { texts, label } = scoped(ctx, `no kernel log line matching ${showPattern(pattern)}`, options)
  const r = checkNoDmesg(texts, pattern, label)
  if (!r.pass) throw new StepFailure(r.expected, r.received)
}
