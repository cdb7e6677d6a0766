import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { dir as tmpDir, type DirectoryResult } from 'tmp-promise'
import { BackendError, createBackend, type Backend, type ExecResult } from '../backends/index.js'
import { classifyFailure, parseProcModules, type ObservedError, type ProcModule } from '../observe/index.js'
import { buildModelImage } from './synthetic.js'
import { StepFailure } from './errors.js'
import type { ResolvedModule } from './modules.js'
import type { NormalizedOptions } from './options.js'
import type { TranscriptEntry } from './transcript.js'

/** What one action did: its commands (probes excluded) and how it failed, if it did. */
export interface ActionRecord {
  step: number
  call: string
  results: ExecResult[]
  /** The first command that exited non-zero, classified from what was printed. */
  error: ObservedError | undefined
  failedResult: ExecResult | undefined
}

/** The state of one run of a chain: the backend, the transcript, the last action. */
export class RunContext {
  readonly transcript: TranscriptEntry[] = []
  readonly actions: ActionRecord[] = []
  step = 0
  /** Module names in the order the kernel saw them appear (only when a step needs it). */
  loadOrder: string[] | undefined
  private seen = new Set<string>()
  private tmp: DirectoryResult | undefined

  private constructor(
    readonly backend: Backend,
    readonly options: NormalizedOptions,
    private readonly ownsBackend: boolean,
  ) {}

  static async open(options: NormalizedOptions): Promise<RunContext> {
    if (typeof options.backend === 'object') return new RunContext(options.backend, options, false)
    const backend = await createBackend({
      backend: options.backend,
      ...(options.release ? { release: options.release } : {}),
      ...(options.cmdline ? { cmdline: options.cmdline } : {}),
      ...(options.tree ? { tree: options.tree } : {}),
    })
    return new RunContext(backend, options, true)
  }

  get lastAction(): ActionRecord | undefined {
    return this.actions.at(-1)
  }

  /** Path prefixes to shorten in printed transcripts. */
  get replacements(): Array<[string, string]> {
    return this.tmp ? [[this.tmp.path, '$TMP']] : []
  }

  async exec(argv: string[], probe: boolean): Promise<ExecResult> {
    let result: ExecResult
    try {
      result = await this.backend.exec(argv, { cwd: this.options.cwd, timeoutMs: this.options.timeout })
    } catch (error) {
      // The command did run: keep it in the transcript with what it printed before the kernel failed.
      if (error instanceof BackendError) {
        const partial = isExecResult(error.cause) ? error.cause : { argv, exitCode: -1, stdout: '', stderr: '', dmesg: [] }
        this.transcript.push({ ...partial, argv: [...argv], step: this.step, probe, failure: `kernel failed: ${error.kind}` })
      }
      throw error
    }
    this.transcript.push({ ...result, argv: [...result.argv], step: this.step, probe })
    return result
  }

  /** Run an action's commands in order, stopping at the first that fails. */
  async action(call: string, argvs: string[][]): Promise<ActionRecord> {
    const record: ActionRecord = { step: this.step, call, results: [], error: undefined, failedResult: undefined }
    this.actions.push(record)
    for (const argv of argvs) {
      const result = await this.exec(argv, false)
      record.results.push(result)
      if (result.exitCode !== 0) {
        record.failedResult = result
        record.error = classifyFailure(result)
        break
      }
    }
    if (this.loadOrder) await this.noteLoaded()
    return record
  }

  /** A probe's output, or a step failure naming the command when it failed. */
  async probe(argv: string[]): Promise<ExecResult> {
    return this.exec(argv, true)
  }

  async procModules(): Promise<ProcModule[]> {
    const result = await this.probe(['cat', '/proc/modules'])
    if (result.exitCode !== 0) throw new StepFailure('cat /proc/modules to work', `exit ${result.exitCode}: ${result.stderr.trim()}`)
    return parseProcModules(result.stdout)
  }

  /** Start recording load order: what is loaded now does not count. */
  async trackLoadOrder(): Promise<void> {
    this.loadOrder = []
    for (const m of await this.procModules()) this.seen.add(m.name)
  }

  private async noteLoaded(): Promise<void> {
    const now = await this.procModules()
    const names = new Set(now.map((m) => m.name))
    // /proc/modules lists newest first: new names read bottom-up are in load order.
    for (const m of [...now].reverse()) if (!this.seen.has(m.name)) this.loadOrder!.push(m.name)
    this.seen = names
  }

  /** The path to put in argv: relative to cwd when inside it; a model is written as a synthetic .ko. */
  async pathOf(module: ResolvedModule): Promise<string> {
    if (module.path !== undefined) {
      const rel = path.relative(this.options.cwd, module.path)
      return rel.startsWith('..') || path.isAbsolute(rel) ? module.path : rel
    }
    if (this.backend.name !== 'sim') {
      throw new StepFailure(
        `a .ko file for ${module.name}`,
        `defineModule('${module.name}') has no .ko: it runs only on the simulated kernel (backend 'sim'); build a real module for '${this.backend.name}'`,
      )
    }
    this.tmp ??= await tmpDir({ prefix: 'kmodspec-', unsafeCleanup: true })
    const file = path.join(this.tmp.path, `${module.name}.ko`)
    await writeFile(file, buildModelImage(module.model, this.backend.release))
    return file
  }

  async close(): Promise<void> {
    try {
      if (this.ownsBackend) await this.backend.close()
    } finally {
      await this.tmp?.cleanup()
    }
  }
}

function isExecResult(value: unknown): value is ExecResult {
  return typeof value === 'object' && value !== null && Array.isArray((value as ExecResult).dmesg) && typeof (value as ExecResult).exitCode === 'number'
}
