// The shared Backend mechanics on a scripted runner: which records a step owns, what reset() unloads, echo errors.
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { BackendError } from '../types.js'
import { echoErrorText, parseCommand, RemoteBackend } from './backend.js'
import { parseKmsgStream } from '../../observe/kmsg.js'
import type { RunOptions, Runner } from './runner.js'

/** A pretend target: a kernel log and /proc/modules that insmod/rmmod change. */
function fakeTarget() {
  const log: string[] = []
  let seq = 100
  const modules: string[] = [] // newest first, like /proc/modules
  const calls: string[][] = []
  const say = (text: string) => log.push(`6,${seq++},${seq * 1000},-;${text}\n SUBSYSTEM=x\n`)
  const runner: Runner = {
    where: 'the fake target',
    async run(argv: readonly string[], _o?: RunOptions) {
      calls.push([...argv])
      const [cmd, arg = ''] = argv
      if (cmd === 'dd' && argv[1] === 'if=/dev/kmsg')
        return { exitCode: 1, stdout: log.join(''), stderr: "dd: error reading '/dev/kmsg': Resource temporarily unavailable\n" }
      if (cmd === 'cat' && arg === '/proc/modules') return { exitCode: 0, stdout: modules.map((m) => `${m} 16384 0 - Live 0x0\n`).join(''), stderr: '' }
      if (cmd === 'insmod') {
        const name = arg.replace(/^.*\//, '').replace(/\.ko$/, '')
        modules.unshift(name)
        say(`[${name}] Hello`)
        return { exitCode: 0, stdout: '', stderr: '' }
      }
      if (cmd === 'rmmod') {
        modules.splice(modules.indexOf(arg), 1)
        say(`[${arg}] Bye`)
        return { exitCode: 0, stdout: '', stderr: '' }
      }
      return { exitCode: 0, stdout: `${argv.join(' ')}\n`, stderr: '' }
    },
    async close() {},
  }
  return { runner, say, modules, calls }
}

describe('RemoteBackend', () => {
  it('gives each step only the records logged while it ran, and unloads what the run loaded newest first on reset()', async () => {
    const t = fakeTarget()
    t.say('from before the run')
    const b = new RemoteBackend({ name: 'ssh', runner: t.runner, release: 'r', timeoutMs: 1000 })
    const a = await b.exec(['insmod', '/m/a.ko'])
    expect(a.dmesg.map((r) => r.text)).toEqual(['[a] Hello'])
    t.say('between steps: belongs to no step')
    const c = await b.exec(['insmod', '/m/c.ko'])
    expect(c.dmesg.map((r) => [r.seq, r.text])).toEqual([[103, '[c] Hello']])
    expect((await b.exec(['lsmod'])).dmesg).toEqual([])
    expect(b.loadedByRun).toEqual(['a', 'c'])
    t.modules.push('preloaded')
    await b.reset()
    expect(t.calls.filter((c) => c[0] === 'rmmod')).toEqual([
      ['rmmod', 'c'],
      ['rmmod', 'a'],
    ])
    expect(t.modules).toEqual(['preloaded'])
    expect(b.loadedByRun).toEqual([])
  })

  it('refuses commands outside the script language, and bad redirections, with a usage error', async () => {
    const b = new RemoteBackend({ name: 'host', runner: fakeTarget().runner, release: 'r', timeoutMs: 1000 })
    await expect(b.exec(['bash', '-c', 'x'])).rejects.toThrow(
      /unknown command 'bash': the host backend runs insmod, rmmod, lsmod, modinfo, modprobe, depmod, dmesg, cat, ls, mkdir, cp, rm, echo/,
    )
    await expect(b.exec(['echo', 'x', '>'])).rejects.toMatchObject({ kind: 'usage' })
    expect(parseCommand(['echo', 'a', '>>', 'f'], 'ssh')).toEqual({ command: ['echo', 'a'], redirect: '>>', file: 'f' })
  })

  it("throws a kernel failure found in a step's records, with the result as its cause", async () => {
    const t = fakeTarget()
    const b = new RemoteBackend({ name: 'ssh', runner: t.runner, release: 'r', timeoutMs: 1000 })
    const run = t.runner.run.bind(t.runner)
    t.runner.run = async (argv, o) => {
      if (argv[0] === 'cat' && argv[1] === 'boom') t.say('BUG: kernel NULL pointer dereference, address: 0000000000000000')
      return run(argv, o)
    }
    const error = await b.exec(['cat', 'boom']).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BackendError)
    expect(error).toMatchObject({ kind: 'oops', report: 'BUG: kernel NULL pointer dereference, address: 0000000000000000' })
  })
})

describe('parseKmsgStream', () => {
  it("splits dd's read of /dev/kmsg into records, continuation lines dropped, escapes decoded", () => {
    const raw = '6,1,10,-;first\n SUBSYSTEM=module\n DEVICE=+module:x\n4,2,20,c;a\\x0ab\n12,3,30,-;user\n'
    expect(parseKmsgStream(raw)).toEqual([
      { seq: 1, level: 6, facility: 0, timestampUs: 10, text: 'first' },
      { seq: 2, level: 4, facility: 0, timestampUs: 20, text: 'a\nb' },
      { seq: 3, level: 4, facility: 1, timestampUs: 30, text: 'user' },
    ])
    expect(parseKmsgStream('')).toEqual([])
  })
})

describe('echoErrorText', () => {
  it("turns GNU dd's open error, as dd prints it here, into the text the qemu backend captured", async () => {
    const r = await execa('dd', ['of=/nonexistent-dir/x', 'status=none'], { input: 'x', reject: false })
    expect(r.exitCode).toBe(1)
    expect(echoErrorText(r.stderr, '/nonexistent-dir/x')).toBe("echo: can't create /nonexistent-dir/x: No such file or directory\n")
    expect(echoErrorText("dd: error writing '/sys/module/p/parameters/count': Invalid argument\n", 'x')).toBe('echo: write error: Invalid argument\n')
  })
})
