// The install-command shell on its own: what dash does for the forms modprobe.d uses, and a note
// (status 2, nothing run) for syntax it does not model. kmod30-modprobe.test.ts judges it against dash.
import { execa } from 'execa'
import { describe, expect, test } from 'vitest'
import type { SimKernel } from '../kernel/types.js'
import { Vfs } from '../vfs.js'
import type { Tool, ToolContext } from './context.js'
import { runShell } from './shell.js'

function machine() {
  let out = ''
  let err = ''
  const notes: string[] = []
  const kernel = { release: 'r', readFile: () => undefined, listDir: () => undefined } as unknown as SimKernel
  const ctx = {
    kernel,
    vfs: new Vfs({ release: 'r', kernel }),
    release: 'r',
    cwd: '/tmp',
    out: (t: string) => void (out += t),
    err: (t: string) => void (err += t),
  } as unknown as ToolContext
  const ran: string[][] = []
  const tools: Record<string, Tool> = {
    modprobe: (c, argv) => (ran.push(argv), c.out(`modprobe ran\n`), argv.includes('fail') ? 1 : 0),
  }
  const sh = (line: string, env: Record<string, string> = { MODPROBE_MODULE: 'm' }) =>
    runShell(ctx, line, { env, tools: Object.keys(tools), run: (c, argv) => tools[argv[0]!]!(c, argv), note: (t) => void notes.push(t) })
  return {
    sh,
    get out() {
      return out
    },
    get err() {
      return err
    },
    notes,
    ran,
    ctx,
  }
}

/** dash, the /bin/sh libkmod's system() runs on Debian: the judge for what needs no tool of ours. */
async function dash(line: string) {
  // argv[0] "sh", as system(3) runs it: dash names itself so in its messages
  const r = await execa('sh', ['-c', line], { reject: false, env: { MODPROBE_MODULE: 'm' }, stripFinalNewline: false })
  return { status: r.exitCode, out: String(r.stdout), err: String(r.stderr) }
}

describe('same as dash', () => {
  for (const line of [
    'echo a  b "c  d" \'e $MODPROBE_MODULE\' "$MODPROBE_MODULE"',
    'echo x\\ y; false && echo no || echo yes',
    'true && false || false; echo $?',
    'nosuch a b; /usr/bin/nosuch',
    'nosuch 2>/dev/null || echo hidden',
    'echo "tab\\there" \\"q\\"',
    'false; true',
    'exit 3; echo never',
    'echo ${MODPROBE_MODULE}_x $MODPROBE_MODULE.y',
    'false && { echo no; echo no2; } || { echo yes && false; } ; echo after',
    'true && { false || echo inner; }; echo }',
    'echo "{" }',
  ]) {
    test(line, async () => {
      const m = machine()
      const status = m.sh(line.replace('; echo $?', ''))
      const expected = await dash(line.replace('; echo $?', ''))
      expect({ status, out: m.out, err: m.err }).toEqual(expected)
    })
  }
})

describe('tools of the simulated machine', () => {
  test('/sbin/modprobe, /usr/sbin/modprobe and modprobe run the simulated modprobe with their words', () => {
    const m = machine()
    expect(m.sh('/sbin/modprobe --ignore-install x opt=1 && /usr/sbin/modprobe y; modprobe fail')).toBe(1)
    expect(m.ran).toEqual([
      ['modprobe', '--ignore-install', 'x', 'opt=1'],
      ['modprobe', 'y'],
      ['modprobe', 'fail'],
    ])
  })
  test('a tool in another directory is not found', () => {
    const m = machine()
    expect(m.sh('/opt/modprobe x')).toBe(127)
    expect(m.err).toBe('sh: 1: /opt/modprobe: not found\n')
  })
  test('redirections to a file of the machine, appended with >>', () => {
    const m = machine()
    expect(m.sh('echo one > /tmp/kmodspec-shell-out; echo two >> /tmp/kmodspec-shell-out')).toBe(0)
    expect(m.ctx.vfs.readText('/tmp/kmodspec-shell-out')).toBe('one\ntwo\n')
  })
})

describe('syntax the interpreter does not model: a note, status 2, nothing run', () => {
  for (const line of [
    'echo a | cat',
    'echo `uname`',
    '(echo a)',
    'echo $HOME',
    'ls *.ko',
    'echo "open',
    'sleep 1 &',
    '{ echo a; ',
    '&& echo a',
    'echo a ; ; echo b',
  ]) {
    test(line, () => {
      const m = machine()
      expect(m.sh(line)).toBe(2)
      expect(m.out + m.err).toBe('')
      expect(m.notes[0]).toMatch(/the simulator's shell runs simple commands/)
    })
  }
})

describe('an install command that runs modprobe of its own module', () => {
  test('stops at a depth limit with a note instead of recursing without end', async () => {
    const { createSimBackend } = await import('../../backends/sim.js')
    const b = await createSimBackend()
    await b.exec(['mkdir', '-p', '/etc/modprobe.d'])
    await b.exec(['echo', 'install selfish /sbin/modprobe selfish', '>', '/etc/modprobe.d/loop.conf'])
    const r = await b.exec(['modprobe', 'selfish'])
    expect(r.exitCode).toBe(1)
    expect(r.notes?.some((n) => n.includes('nested 16 deep'))).toBe(true)
    expect(r.stderr).toContain("modprobe: ERROR: could not insert 'selfish': Invalid argument\n")
    await b.close()
  })
})
