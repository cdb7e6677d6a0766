import { KmodspecError } from '../errors.js'

/** The rejection of a chain (fails the test when it resolved). */
export async function failureOf(chain: PromiseLike<unknown>): Promise<KmodspecError> {
  const outcome = await Promise.resolve(chain).then(
    () => undefined,
    (error: unknown) => error,
  )
  if (!(outcome instanceof KmodspecError))
    throw new Error(`expected the chain to fail with a KmodspecError, got ${outcome instanceof Error ? outcome.stack : String(outcome)}`)
  return outcome
}

/** The message with the spec position as FILE:LINE:COL, which moves whenever a test file is edited. */
export function shape(error: KmodspecError): string {
  return error.message.replace(/^(At:\s+)\S+:\d+:\d+$/m, '$1FILE:LINE:COL')
}
