import type { KernelLogRecord } from '../../backends/index.js'
import type { RunContext } from '../context.js'
import { StepFailure } from '../errors.js'
import { block, matchesLine, previousAction, showPattern, type LinePattern } from './common.js'

export interface DmesgOptions {
  /** 'action' (default): lines caused by the previous action; 'run': every line of the run so far. */
  scope?: 'action' | 'run'
  /** True: the lines must be exactly these, nothing else in between or around. */
  exact?: boolean
}

function scoped(ctx: RunContext, what: string, options: DmesgOptions): { records: KernelLogRecord[]; label: string } {
  if (options.scope === 'run') return { records: ctx.transcript.filter((e) => !e.probe).flatMap((e) => e.dmesg), label: 'kernel log of the run' }
  const action = previousAction(ctx, what)
  return { records: action.results.flatMap((r) => r.dmesg), label: `kernel log of ${action.call}` }
}

/** Each pattern must match a line, in order (other lines may come between unless exact). */
export async function expectDmesg(ctx: RunContext, lines: LinePattern | LinePattern[], options: DmesgOptions = {}): Promise<void> {
  const patterns = Array.isArray(lines) ? lines : [lines]
  const wanted = `${options.exact ? 'exactly these' : 'these'} kernel log lines, in order:\n${block(patterns.map(showPattern))}`
  const { records, label } = scoped(ctx, wanted, options)
  const texts = records.map((r) => r.text)
  let ok: boolean
  if (options.exact) {
    ok = texts.length === patterns.length && patterns.every((p, i) => matchesLine(p, texts[i]!))
  } else {
    let at = 0
    ok = patterns.every((p) => {
      while (at < texts.length && !matchesLine(p, texts[at]!)) at++
      return at++ < texts.length
    })
  }
  if (!ok) throw new StepFailure(wanted, `${label}:\n${block(texts, '(no kernel log lines)')}`)
}

/** No line may match the pattern. */
export async function expectNoDmesg(ctx: RunContext, pattern: LinePattern, options: Pick<DmesgOptions, 'scope'> = {}): Promise<void> {
  const wanted = `no kernel log line matching ${showPattern(pattern)}`
  const { records, label } = scoped(ctx, wanted, options)
  const hits = records.map((r) => r.text).filter((t) => matchesLine(pattern, t))
  if (hits.length > 0) throw new StepFailure(wanted, `${label} has:\n${block(hits)}`)
}
