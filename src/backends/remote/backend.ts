import path from 'node:path'
import process from 'node:process'
import { parseCommand, type ParsedCommand, scriptCommand } from '../../contract/script.js'
import { kernelFailureError } from '../../observe/kernel-failure.js'
import { execResult } from '../../observe/unrelated.js'
import { type Backend, BackendError, type ExecOptions, type ExecResult, type KernelLogRecord, UsageError } from '../types.js'
import { parseKmsgStream } from '../../observe/kmsg.js'
import { kmsgReadEndedCleanly, kmsgReader } from './kmsg.js'
import type { RunResult, Runner } from './runner.js'

// The script language's parser, shared with every backend (contract/script.ts); host.ts and the tests import it from here.
export { parseCommand, type ParsedCommand }

/** Turns dd's messages about the redirection target into the ones the qemu backend gives (busybox's echo). */
export function echoErrorText(ddStderr: string, file: string): string {
  const open = /^dd: failed to open .*: ([^:\n]+)$/m.exec(ddStderr)
  if (open) return `echo: can't create ${file}: ${open[1]}\n`
  const write = /^dd: error writing .*: ([^:\n]+)$/m.exec(ddStderr)
  if (write) return `echo: write error: ${write[1]}\n`
  return ddStderr
}

/** What differs between the host and the ssh backend; everything else is shared. */
export interface RemoteBackendConfig {
  name: 'host' | 'ssh'
  runner: Runner
  release: string
  /** Milliseconds one command may take. */
  timeoutMs: number
  /** Throws when a command must not run (the host's safety guard). */
  guard?(parsed: ParsedCommand, cwd: string): void
  /** Makes the directory and the files the command names exist on the target (ssh uploads them). */
  prepare?(parsed: ParsedCommand, cwd: string): Promise<void>
  /** Forgets what prepare() cached (reset() calls it). */
  forget?(): void
}

/**
 * A Backend on a {@link Runner}: each step reads the kernel log's last sequence number before the
 * command and the new records after it, so each step owns exactly the lines it caused (records
 * logged between steps belong to no step, as on the qemu backend).
 */
export class RemoteBackend implements Backend {
  readonly name: 'host' | 'ssh'
  readonly release: string
  /** Modules this run loaded, oldest first (what reset() unloads). */
  private loaded: string[] = []
  private closed = false

  constructor(private readonly config: RemoteBackendConfig) {
    this.name = config.name
    this.release = config.release
  }

  /** Where commands run, for messages. */
  get where(): string {
    return this.config.runner.where
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed) throw new UsageError(`the ${this.name} backend is closed`)
    const parsed = parseCommand(argv, this.name)
    const cwd = path.resolve(options.cwd ?? process.cwd())
    const timeoutMs = options.timeoutMs ?? this.config.timeoutMs
    this.config.guard?.(parsed, cwd)
    await this.config.prepare?.(parsed, cwd)
    // parseCommand() refused an argv whose first word is not a command of the language.
    const tracks = scriptCommand(parsed.command[0]!)?.changesKernel === true
    const modulesBefore = tracks ? await this.loadedModules() : undefined
    const before = await this.readLog()
    const lastSeq = before.at(-1)?.seq ?? -1
    const r = parsed.redirect ? await this.echoInto(parsed, cwd, timeoutMs) : await this.config.runner.run(parsed.command, { cwd, timeoutMs })
    const records = (await this.readLog()).filter((rec) => rec.seq > lastSeq)
    if (modulesBefore) this.track(modulesBefore, await this.loadedModules())
    const result = execResult(argv, r, records)
    const failure = kernelFailureError(records, result, { on: this.where, remedy: `the ${this.name} backend cannot bring a fresh kernel: reboot the target` })
    if (failure) throw failure
    return result
  }

  /** `echo WORDS > FILE`: the target's echo makes the bytes, dd writes them (no shell redirection anywhere). */
  private async echoInto(parsed: ParsedCommand, cwd: string, timeoutMs: number): Promise<RunResult> {
    const echo = await this.config.runner.run(parsed.command, { cwd, timeoutMs })
    if (echo.exitCode !== 0) return echo
    // fullblock + 1 MiB: the text reaches the file in one write(2), as a shell's echo does (sysfs needs that).
    const dd = ['dd', `of=${parsed.file}`, 'bs=1M', 'iflag=fullblock', 'status=none', ...(parsed.redirect === '>>' ? ['oflag=append', 'conv=notrunc'] : [])]
    const w = await this.config.runner.run(dd, { cwd, input: echo.stdout, timeoutMs })
    return { exitCode: w.exitCode === 0 ? 0 : 1, stdout: '', stderr: echo.stderr + (w.exitCode === 0 ? w.stderr : echoErrorText(w.stderr, parsed.file)) }
  }

  /** Every record /dev/kmsg holds now. */
  private async readLog(): Promise<KernelLogRecord[]> {
    const r = await this.config.runner.run(kmsgReader, { timeoutMs: this.config.timeoutMs })
    if (r.exitCode !== 0 && !kmsgReadEndedCleanly(r.stderr)) {
      throw new BackendError(
        `cannot read the kernel log (/dev/kmsg) on ${this.where}: ${r.stderr.trim() || `dd exited ${r.exitCode}`} (run as root, or set sudo: true)`,
        'setup',
      )
    }
    return parseKmsgStream(r.stdout)
  }

  /** Names in /proc/modules, or undefined when the target has none (a kernel without module support). */
  private async loadedModules(): Promise<string[] | undefined> {
    const r = await this.config.runner.run(['cat', '/proc/modules'], { timeoutMs: this.config.timeoutMs })
    if (r.exitCode !== 0) return undefined
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ')[0]!)
  }

  private track(before: string[] | undefined, after: string[] | undefined): void {
    if (!before || !after) return
    const had = new Set(before)
    const now = new Set(after)
    this.loaded = this.loaded.filter((m) => now.has(m))
    // /proc/modules lists the newest first: reverse so a dependency comes before its user.
    for (const m of [...after].reverse()) if (!had.has(m) && !this.loaded.includes(m)) this.loaded.push(m)
  }

  /** The modules this run loaded and are still loaded, oldest first. */
  get loadedByRun(): readonly string[] {
    return this.loaded
  }

  /**
   * Unloads every module this run loaded, newest first (rmmod). This is NOT a pristine kernel:
   * taint flags, once-per-boot messages ("loading out-of-tree module taints kernel.") and the log
   * stay. For pristine-per-test semantics use the qemu backend.
   */
  async reset(): Promise<void> {
    if (this.closed) throw new UsageError(`the ${this.name} backend is closed`)
    this.config.forget?.()
    const still = new Set((await this.loadedModules()) ?? [])
    const failed: string[] = []
    for (const m of [...this.loaded].reverse()) {
      if (!still.has(m)) continue
      const r = await this.config.runner.run(['rmmod', m], { timeoutMs: this.config.timeoutMs })
      if (r.exitCode !== 0) failed.push(`${m}: ${r.stderr.trim()}`)
    }
    this.loaded = []
    if (failed.length > 0) throw new BackendError(`reset() could not unload what this run loaded on ${this.where}:\n${failed.join('\n')}`, 'setup')
  }

  /** Ends what the runner holds (an ssh ControlMaster); nothing on the target is touched. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.config.runner.close()
  }
}

/** `uname -r` on the target. */
export async function targetRelease(runner: Runner): Promise<string> {
  const r = await runner.run(['uname', '-r'], { timeoutMs: 30_000 })
  if (r.exitCode !== 0 || !r.stdout.trim()) throw new BackendError(`'uname -r' failed on ${runner.where}: ${r.stderr.trim() || `exit ${r.exitCode}`}`, 'setup')
  return r.stdout.trim()
}
