// A scripted Backend for unit tests of the chain: actions answer from a script, probes from a
// tiny model of loaded modules. Texts in scripts come from real kmod/kernel runs (fixtures/captures).
import type { Backend, ExecResult, KernelLogRecord } from '../../backends/index.js'

export interface FakeModule {
  name: string
  size?: number
  uses?: string[]
  taint?: string
}

export interface ScriptedCommand {
  argv: string[]
  exitCode?: number
  stdout?: string
  stderr?: string
  dmesg?: string[]
  /** Records the kernel logged on its own during the command (ExecResult.unrelated). */
  unrelated?: string[]
  /** Modules this command loads (in load order) and unloads. */
  load?: FakeModule[]
  unload?: string[]
  /** Taint mask after this command. */
  tainted?: number
}

export interface FakeBackend extends Backend {
  readonly executed: string[][]
  closed: boolean
}

export function createFakeBackend(options: { release?: string; script: ScriptedCommand[]; modinfo?: Record<string, Record<string, string[]>> }): FakeBackend {
  const script = [...options.script]
  const loaded: Array<FakeModule & { holders: string[] }> = []
  let seq = 0
  let tainted = 0
  const executed: string[][] = []
  const record = (text: string): KernelLogRecord => ({ seq: seq++, level: 6, facility: 0, timestampUs: seq * 1000, text })
  const result = (argv: readonly string[], r: Partial<ExecResult>, dmesg: string[] = [], unrelated: string[] = []): ExecResult => ({
    argv: [...argv],
    exitCode: r.exitCode ?? 0,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
    dmesg: dmesg.map(record),
    ...(unrelated.length > 0 ? { unrelated: unrelated.map(record) } : {}),
  })
  const find = (name: string) => loaded.find((m) => m.name === name)

  const backend: FakeBackend = {
    name: 'sim',
    release: options.release ?? '6.1.0-56-amd64',
    executed,
    closed: false,
    async exec(argv) {
      executed.push([...argv])
      const [cmd, a1, a2, a3] = argv
      if (cmd === 'cat' && a1 === '/proc/modules') {
        // Newest first, like the kernel.
        const lines = [...loaded]
          .reverse()
          .map(
            (m) =>
              `${m.name} ${m.size ?? 16384} ${m.holders.length} ${m.holders.length ? m.holders.join(',') + ',' : '-'} Live 0x0000000000000000${m.taint ? ` (${m.taint})` : ''}`,
          )
        return result(argv, { stdout: lines.map((l) => l + '\n').join('') })
      }
      if (cmd === 'cat' && a1 === '/proc/sys/kernel/tainted') return result(argv, { stdout: `${tainted}\n` })
      let m: RegExpExecArray | null
      if (cmd === 'cat' && a1 && (m = /^\/sys\/module\/(\w+)\/(refcnt|taint)$/.exec(a1))) {
        const mod = find(m[1]!)
        if (!mod) return result(argv, { exitCode: 1, stderr: `cat: ${a1}: No such file or directory\n` })
        return result(argv, { stdout: m[2] === 'refcnt' ? `${mod.holders.length}\n` : `${mod.taint ?? ''}\n` })
      }
      if (cmd === 'ls' && a1 && (m = /^\/sys\/module\/(\w+)\/holders$/.exec(a1))) {
        const mod = find(m[1]!)
        if (!mod) return result(argv, { exitCode: 1, stderr: `ls: ${a1}: No such file or directory\n` })
        return result(argv, {
          stdout: [...mod.holders]
            .sort()
            .map((h) => h + '\n')
            .join(''),
        })
      }
      if (cmd === 'modinfo' && a1 === '-F' && a2 && a3) {
        const info = options.modinfo?.[a3]
        if (!info) return result(argv, { exitCode: 1, stderr: `modinfo: ERROR: Module ${a3} not found.\n` })
        return result(argv, { stdout: (info[a2] ?? []).map((v) => v + '\n').join('') })
      }
      const next = script.shift()
      if (!next) throw new Error(`fake backend: no scripted result for ${JSON.stringify(argv)}`)
      if (JSON.stringify(next.argv) !== JSON.stringify(argv))
        throw new Error(`fake backend: expected ${JSON.stringify(next.argv)}, got ${JSON.stringify(argv)}`)
      for (const mod of next.load ?? []) {
        loaded.push({ ...mod, holders: [] })
        for (const used of mod.uses ?? []) find(used)?.holders.unshift(mod.name)
      }
      for (const name of next.unload ?? []) {
        loaded.splice(
          loaded.findIndex((x) => x.name === name),
          1,
        )
        for (const other of loaded) other.holders = other.holders.filter((h) => h !== name)
      }
      if (next.tainted !== undefined) tainted = next.tainted
      return result(argv, { exitCode: next.exitCode, stdout: next.stdout, stderr: next.stderr }, next.dmesg, next.unrelated)
    },
    async reset() {},
    async close() {
      backend.closed = true
    },
  }
  return backend
}
