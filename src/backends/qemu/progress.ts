import process from 'node:process'

/**
 * Reports one slow first-run step (kernel extraction, agent build, initramfs, first boot) on stderr:
 * on a terminal a line that updates in place, elsewhere (CI logs) one line when the step ends.
 * Warm runs never call it, so a warm run prints nothing.
 * @example const file = await firstRunStep('building the initramfs', () => build())
 */
export async function firstRunStep<T>(label: string, work: () => Promise<T>, done?: (result: T) => string): Promise<T> {
  const tty = process.stderr.isTTY === true
  const started = Date.now()
  if (tty) process.stderr.write(`\r\x1b[K  kmodspec: ${label} ...`)
  const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`
  try {
    const result = await work()
    const extra = done ? `, ${done(result)}` : ''
    process.stderr.write(`${tty ? '\r\x1b[K  ' : ''}kmodspec: ${label}: done in ${seconds()}${extra}\n`)
    return result
  } catch (error) {
    process.stderr.write(`${tty ? '\r\x1b[K  ' : ''}kmodspec: ${label}: failed after ${seconds()}\n`)
    throw error
  }
}
