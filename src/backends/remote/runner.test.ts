// The local runner: argv arrays through execa, the tools' PATH, and sudo for a non-root process.
import { describe, expect, it } from 'vitest'
import { localRunner } from './runner.js'

describe('localRunner', () => {
  it('runs an argv as given, stdout and stderr apart, exit code kept, stdin only when given', async () => {
    const r = localRunner()
    expect(await r.run(['sh', '-c', 'printf out; printf err >&2; exit 3'])).toEqual({ exitCode: 3, stdout: 'out', stderr: 'err' })
    expect(await r.run(['cat'], { input: "a'b\n" })).toMatchObject({ exitCode: 0, stdout: "a'b\n" })
    expect(await r.run(['cat'])).toMatchObject({ exitCode: 0, stdout: '' })
    expect((await r.run(['pwd'], { cwd: '/tmp' })).stdout).toBe('/tmp\n')
    expect((await r.run(['sh', '-c', 'echo $PATH'])).stdout).toMatch(/(^|:)\/usr\/sbin(:|$)/)
    await expect(r.run([])).rejects.toThrow('empty command: nothing to run on this machine')
  })

  it('prefixes sudo -n -- for a non-root process when sudo is set, and only then', async () => {
    const asUser = localRunner({ sudo: true, root: false })
    expect(asUser.where).toBe('this machine (sudo)')
    // Here sudo is either missing (the error names it) or runs the argv (SUDO_COMMAND names it).
    const outcome = await asUser.run(['printenv', 'SUDO_COMMAND']).then(
      (r) => r.stdout,
      (e: Error) => e.message,
    )
    expect(outcome).toMatch(/^'sudo' is not installed on this machine \(sudo\)|printenv SUDO_COMMAND/)
    expect(localRunner({ sudo: true, root: true }).where).toBe('this machine')
  })
})
