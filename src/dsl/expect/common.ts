import type { ActionRecord, RunContext } from '../context.js'
import { StepFailure } from '../errors.js'
import { testBounded } from './regex.js'

/** The action an expectation looks at, or a failure saying one is needed first. */
export function previousAction(ctx: RunContext, what: string): ActionRecord {
  const action = ctx.lastAction
  if (!action) throw new StepFailure(what, 'no action before this step (queue insmod(), modprobe(), run()... first)')
  return action
}

/** How a finished command ended, in one line for Received. */
export function outcome(action: ActionRecord): string {
  if (!action.failedResult) return 'success (exit 0)'
  return `exit ${action.failedResult.exitCode}: ${action.error?.line ?? action.failedResult.stderr.trim()}`
}

export type LinePattern = string | RegExp

export function matchesLine(pattern: LinePattern, text: string): boolean {
  return typeof pattern === 'string' ? text === pattern : testBounded(pattern, text)
}

export function showPattern(pattern: LinePattern): string {
  return typeof pattern === 'string' ? pattern : String(pattern)
}

/** Lines as an indented block (or a note when there are none). */
export function block(lines: readonly string[], none = '(none)'): string {
  return lines.length === 0 ? none : lines.join('\n')
}
