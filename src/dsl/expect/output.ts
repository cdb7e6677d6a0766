import { checkOutput } from '../checks/index.js'
import type { RunContext } from '../context.js'
import { StepFailure } from '../errors.js'
import { previousAction, showPattern } from './common.js'

/** stdout or stderr of the previous action contains the text (or matches the RegExp). */
export async function expectOutput(ctx: RunContext, pattern: string | RegExp): Promise<void> {
  const action = previousAction(ctx, `output ${typeof pattern === 'string' ? 'containing' : 'matching'} ${showPattern(pattern)}`)
  const r = checkOutput(action.results.map((x) => x.stdout + x.stderr).join(''), pattern, `output of ${action.call}`)
  if (!r.pass) throw new StepFailure(r.expected, r.received)
}
