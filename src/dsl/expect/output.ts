import type { RunContext } from '../context.js'
import { StepFailure } from '../errors.js'
import { block, previousAction, showPattern } from './common.js'
import { testBounded } from './regex.js'

/** stdout or stderr of the previous action contains the text (or matches the RegExp). */
export async function expectOutput(ctx: RunContext, pattern: string | RegExp): Promise<void> {
  const wanted = `output ${typeof pattern === 'string' ? 'containing' : 'matching'} ${showPattern(pattern)}`
  const action = previousAction(ctx, wanted)
  const text = action.results.map((r) => r.stdout + r.stderr).join('')
  const ok = typeof pattern === 'string' ? text.includes(pattern) : testBounded(pattern, text)
  if (!ok) throw new StepFailure(wanted, `output of ${action.call}:\n${block(text.split('\n').filter((l) => l !== ''), '(no output)')}`)
}
