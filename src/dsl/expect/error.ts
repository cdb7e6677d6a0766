import type { ErrorKind } from '../../observe/index.js'
import { checkError, type ErrorDetails } from '../checks/index.js'
import type { RunContext } from '../context.js'
import { StepFailure } from '../errors.js'
import { outcome, previousAction } from './common.js'

export type { ErrorDetails } from '../checks/index.js'

/** The previous action failed with this kind of error (and these details). */
export async function expectError(ctx: RunContext, kind: ErrorKind, details: ErrorDetails = {}): Promise<void> {
  const action = previousAction(ctx, checkError(undefined, kind, details).expected)
  const r = checkError(action.error, kind, details, outcome(action))
  if (!r.pass) throw new StepFailure(r.expected, r.received)
}
