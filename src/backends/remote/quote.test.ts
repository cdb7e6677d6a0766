// The quoting that guards every word ssh hands the remote shell: checked by real shells parsing it back.
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { shellLine, shellQuote } from './quote.js'
import { remoteLine, sshArgv } from './runner.js'

const nasty = [
  "it's",
  "''",
  "'",
  '',
  ' ',
  'a b',
  '$(touch /tmp/kmodspec-pwned)',
  '`id`',
  '"',
  '\\',
  '*',
  '~',
  '\n',
  'x;y',
  '&&',
  '|',
  '$HOME',
  '-n',
  'é\u{1F600}',
]

/** The argv a shell gets back from a line, as NUL-separated words. */
async function splitBy(shell: string[], line: string): Promise<string[]> {
  const r = await execa(shell[0]!, [...shell.slice(1), '-c', `printf '%s\\0' ${line}`])
  return r.stdout.split('\0').slice(0, -1)
}

describe('shellQuote', () => {
  it("single-quotes a word and turns each quote into '\\''", () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`)
    expect(shellQuote('')).toBe(`''`)
    expect(() => shellQuote('a\0b')).toThrow(/NUL/)
  })
  for (const shell of [['sh'], ['bash'], ['busybox', 'sh']]) {
    it(`survives ${shell.join(' ')} parsing: every word comes back unchanged and nothing runs`, async () => {
      expect(await splitBy(shell, shellLine(nasty))).toEqual(nasty)
    })
  }
})

describe('remoteLine', () => {
  it('enters the cwd and execs the argv, both quoted', async () => {
    const line = remoteLine(['printf', '%s|', "a'b", '$x'], '/tmp')
    expect(line).toBe(`cd '/tmp' && exec 'printf' '%s|' 'a'\\''b' '$x'`)
    const r = await execa('sh', ['-c', remoteLine(['pwd'], '/tmp')])
    expect(r.stdout).toBe('/tmp')
    expect((await execa('sh', ['-c', remoteLine(['printf', '%s|', "a'b", '$x'])])).stdout).toBe(`a'b|$x|`)
  })
})

describe('sshArgv', () => {
  it('puts the user options first (ssh keeps the first value), then the target, --, and one command line', () => {
    const argv = sshArgv({ target: 'root@127.0.0.1', port: 2222, identity: '/k', sshOptions: ['LogLevel=DEBUG'] }, '/tmp/cm', `exec 'lsmod'`)
    expect(argv.slice(0, 3)).toEqual(['-T', '-o', 'LogLevel=DEBUG'])
    expect(argv.indexOf('LogLevel=ERROR')).toBeGreaterThan(argv.indexOf('LogLevel=DEBUG'))
    expect(argv.slice(-3)).toEqual(['root@127.0.0.1', '--', `exec 'lsmod'`])
    expect(argv).toContain('ControlPath=/tmp/cm')
    expect(argv.join(' ')).toContain('-p 2222 -i /k')
  })
})
