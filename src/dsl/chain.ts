import { BackendError } from '../backends/index.js'
import { parseTainted, type ErrorKind } from '../observe/index.js'
import { captureCallSite, type CallSite } from './callsite.js'
import { RunContext } from './context.js'
import type { ModuleModel } from './define.js'
import { KmodspecError, StepFailure, type StepInfo } from './errors.js'
import { ChainUsageError, checkLinePatterns, dmesgOptionsProblem, errorDetailsProblem, errorKindProblem, errorKindTodo, taintProblem } from './validate.js'
import { expectDmesg, expectNoDmesg, type DmesgOptions } from './expect/dmesg.js'
import { expectError, type ErrorDetails } from './expect/error.js'
import { expectModinfo, type ModinfoValue } from './expect/modinfo.js'
import { expectHolders, expectLoaded, expectLoadOrder, expectNotLoaded, expectRefcount, type LoadedOptions } from './expect/modules.js'
import { expectOutput } from './expect/output.js'
import { expectNotTainted, expectTainted } from './expect/taint.js'
import type { LinePattern } from './expect/common.js'
import { formatCall, formatValue } from './format.js'
import { ModuleCatalog } from './modules.js'
import { normalizeOptions, type KernelOptions, type NormalizedOptions } from './options.js'
import { paramWords, type ModuleParams } from './params.js'
import { recordChain } from './record.js'
import type { KernelRun } from './result.js'

/** A module given to an action: a name looked up in `modules`, a path, or a defineModule() model. */
export type ModuleRef = string | ModuleModel

interface Step {
  kind: 'action' | 'expect'
  call: string
  site: CallSite | undefined
  run(ctx: RunContext, catalog: ModuleCatalog): Promise<unknown>
}

const nameOf = (m: ModuleRef): string => (typeof m === 'string' ? m : m.name)

/**
 * A queue of kernel module actions and expectations that runs once, when awaited.
 * @example
 * await kernel({ modules: 'fixtures/hello' })
 *   .insmod('hello_api').expectDmesg('[hello_api] Hello, World!')
 *   .insmod('hello_feature').expectLoaded('hello_api', { refcount: 1, holders: ['hello_feature'] })
 */
export class KernelChain implements PromiseLike<KernelRun> {
  readonly #options: NormalizedOptions
  readonly #steps: Step[] = []
  readonly #created: CallSite | undefined
  #started = false

  constructor(options?: KernelOptions) {
    this.#options = normalizeOptions(options)
    this.#created = captureCallSite(new Error())
  }

  /** Where kernel() was called, for errors about the chain as a whole. */
  get #where(): string {
    return this.#created ? `${this.#created.file}:${this.#created.line}` : 'kernel()'
  }

  /** A call whose arguments cannot be used: refused at the line that made it. */
  #usage(method: string, args: unknown[], problem: string, todo: string): never {
    throw new ChainUsageError(this.#options.backendName, formatCall(method, args), problem, todo)
  }

  #queue(kind: Step['kind'], method: string, args: unknown[], run: Step['run']): this {
    const call = formatCall(method, args)
    const site = captureCallSite(new Error())
    if (this.#started) {
      throw new KmodspecError({
        title: `kernel(${this.#options.backendName}).${call} was queued after the chain ran`,
        step: { index: this.#steps.length + 1, total: this.#steps.length + 1, call, site },
        expected: 'every step queued before the chain is awaited',
        actual: `the chain started at ${this.#where} already ran; queue every step before awaiting, or start a new chain with kernel()`,
        backend: this.#options.backendName,
      })
    }
    this.#steps.push({ kind, call, site, run })
    return this
  }

  // Actions

  /** `insmod <file> [name=value...]`: load one module file, no dependency resolution. */
  insmod(module: ModuleRef, params?: ModuleParams): this {
    return this.#queue('action', 'insmod', [module, params], async (ctx, catalog) => {
      const words = paramWords(params)
      const file = await ctx.pathOf(await catalog.resolve(module))
      return ctx.action(formatCall('insmod', [module, params]), [['insmod', file, ...words]])
    })
  }

  /** `rmmod <name>`. */
  rmmod(name: ModuleRef): this {
    return this.#queue('action', 'rmmod', [name], (ctx) => ctx.action(formatCall('rmmod', [name]), [['rmmod', nameOf(name)]]))
  }

  /** `modprobe <name> [name=value...]`: load with dependencies from /lib/modules/<release>. */
  modprobe(name: ModuleRef, params?: ModuleParams): this {
    return this.#queue('action', 'modprobe', [name, params], async (ctx) =>
      ctx.action(formatCall('modprobe', [name, params]), [['modprobe', nameOf(name), ...paramWords(params)]]),
    )
  }

  /** `modprobe -r <name>`: unload it and the dependencies nothing else uses. */
  modprobeRemove(name: ModuleRef): this {
    return this.#queue('action', 'modprobeRemove', [name], (ctx) => ctx.action(formatCall('modprobeRemove', [name]), [['modprobe', '-r', nameOf(name)]]))
  }

  /** `depmod -a`. */
  depmod(): this {
    return this.#queue('action', 'depmod', [], (ctx) => ctx.action('depmod()', [['depmod', '-a']]))
  }

  /** Copy a module into /lib/modules/<release>/extra (like `make modules_install`, without depmod). */
  install(module: ModuleRef): this {
    return this.#queue('action', 'install', [module], async (ctx, catalog) => {
      const file = await ctx.pathOf(await catalog.resolve(module))
      const dir = `/lib/modules/${ctx.backend.release}/extra`
      return ctx.action(formatCall('install', [module]), [
        ['mkdir', '-p', dir],
        ['cp', file, dir],
      ])
    })
  }

  /** Any command of the script language, e.g. `run(['lsmod'])` or `run(['dmesg'])`. */
  run(argv: string[]): this {
    return this.#queue('action', 'run', [argv], async (ctx) => {
      if (!Array.isArray(argv) || argv.length === 0 || argv.some((w) => typeof w !== 'string'))
        throw new StepFailure("a command as an array of strings, e.g. ['lsmod']", JSON.stringify(argv) ?? String(argv))
      return ctx.action(formatCall('run', [argv]), [argv])
    })
  }

  // Expectations

  /** The previous action failed with this kind of error (decided from what kmod and the kernel printed). */
  expectError(kind: ErrorKind, details?: ErrorDetails): this {
    if (errorKindProblem(kind)) this.#usage('expectError', [kind, details], errorKindProblem(kind)!, errorKindTodo())
    const detailProblem = errorDetailsProblem(details)
    if (detailProblem) this.#usage('expectError', [kind, details], detailProblem, 'leave the other keys out, or check the text with expectOutput()')
    return this.#queue('expect', 'expectError', [kind, details], (ctx) => expectError(ctx, kind, details))
  }

  /** The previous action caused these kernel log lines, in order (string: whole line; RegExp: a match). */
  expectDmesg(lines: LinePattern | LinePattern[], options?: DmesgOptions): this {
    const checked = checkLinePatterns(lines, true)
    if ('problem' in checked) this.#usage('expectDmesg', [lines, options], checked.problem, checked.todo)
    const optionProblem = dmesgOptionsProblem(options, true)
    if (optionProblem) this.#usage('expectDmesg', [lines, options], optionProblem, "write { scope: 'run' } or { exact: true }")
    // Our own copies: a RegExp's lastIndex is never shared with the caller or another step.
    const patterns = Array.isArray(lines) ? checked.patterns : checked.patterns[0]!
    return this.#queue('expect', 'expectDmesg', [lines, options], (ctx) => expectDmesg(ctx, patterns, options))
  }

  /** The previous action caused no kernel log line matching the pattern. */
  expectNoDmesg(pattern: LinePattern, options?: Pick<DmesgOptions, 'scope'>): this {
    const checked = checkLinePatterns(pattern, false)
    if ('problem' in checked) this.#usage('expectNoDmesg', [pattern, options], checked.problem, checked.todo)
    const optionProblem = dmesgOptionsProblem(options, false)
    if (optionProblem) this.#usage('expectNoDmesg', [pattern, options], optionProblem, "write { scope: 'run' }")
    const own = checked.patterns[0]!
    return this.#queue('expect', 'expectNoDmesg', [pattern, options], (ctx) => expectNoDmesg(ctx, own, options))
  }

  /** The module is loaded (and, if given, has this refcount and these holders). */
  expectLoaded(name: string, options?: LoadedOptions): this {
    return this.#queue('expect', 'expectLoaded', [name, options], (ctx) => expectLoaded(ctx, name, options))
  }

  expectNotLoaded(name: string): this {
    return this.#queue('expect', 'expectNotLoaded', [name], (ctx) => expectNotLoaded(ctx, name))
  }

  /** /sys/module/<name>/refcnt is n. */
  expectRefcount(name: string, n: number): this {
    return this.#queue('expect', 'expectRefcount', [name, n], (ctx) => expectRefcount(ctx, name, n))
  }

  /** /sys/module/<name>/holders lists exactly these modules (any order). */
  expectHolders(name: string, holders: string[]): this {
    return this.#queue('expect', 'expectHolders', [name, holders], (ctx) => expectHolders(ctx, name, holders))
  }

  /** These modules were inserted in this order during the run, as /proc/modules showed them. */
  expectLoadOrder(names: string[]): this {
    return this.#queue('expect', 'expectLoadOrder', [names], (ctx) => expectLoadOrder(ctx, names))
  }

  /** `modinfo -F <field>` of the module has these values. */
  expectModinfo(module: ModuleRef, fields: Record<string, ModinfoValue>): this {
    return this.#queue('expect', 'expectModinfo', [module, fields], (ctx, catalog) => expectModinfo(ctx, catalog, module, fields))
  }

  /** The kernel's taint (or a module's, with `{ module }`) includes these letters, e.g. 'OE'. */
  expectTainted(flags: string, options?: { module?: string }): this {
    const taint = taintProblem(flags)
    if (taint) this.#usage('expectTainted', [flags, options], taint.problem, taint.todo)
    return this.#queue('expect', 'expectTainted', [flags, options], (ctx) => expectTainted(ctx, flags, options))
  }

  /** /proc/sys/kernel/tainted is 0. */
  expectNotTainted(): this {
    return this.#queue('expect', 'expectNotTainted', [], (ctx) => expectNotTainted(ctx))
  }

  /** stdout or stderr of the previous action contains the text or matches the RegExp. */
  expectOutput(pattern: string | RegExp): this {
    if (typeof pattern !== 'string' && !(pattern instanceof RegExp))
      this.#usage(
        'expectOutput',
        [pattern],
        `the output pattern must be a string or a RegExp, got ${formatValue(pattern)}`,
        "write expectOutput('text') or expectOutput(/re/)",
      )
    const own = pattern instanceof RegExp ? new RegExp(pattern.source, pattern.flags) : pattern
    return this.#queue('expect', 'expectOutput', [pattern], (ctx) => expectOutput(ctx, own))
  }

  // Running

  then<R1 = KernelRun, R2 = never>(
    onfulfilled?: ((run: KernelRun) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (this.#started) {
      const last = this.#steps.at(-1)
      const error = new KmodspecError({
        title: `kernel(${this.#options.backendName}) chain awaited twice`,
        step: { index: this.#steps.length, total: this.#steps.length, call: last?.call ?? 'kernel()', site: last?.site ?? this.#created },
        expected: 'each chain awaited once',
        actual: `the chain started at ${this.#where} already ran; keep the result of its first await, or build a new chain with kernel()`,
        backend: this.#options.backendName,
      })
      return Promise.reject(error).then(onfulfilled, onrejected)
    }
    this.#started = true
    return this.#execute().then(onfulfilled, onrejected)
  }

  async #execute(): Promise<KernelRun> {
    const options = this.#options
    let ctx: RunContext
    try {
      ctx = await RunContext.open(options)
    } catch (cause) {
      throw new KmodspecError({
        title: `kernel(${options.backendName}) could not start`,
        expected: `a ${options.backendName} backend`,
        actual: (cause as Error).message ?? String(cause),
        backend: options.backendName,
        cause,
      })
    }
    const catalog = new ModuleCatalog(options.modules, options.cwd, ctx.backend.release)
    const total = this.#steps.length
    let ok = false
    // Probes before the first step and after the last belong to those steps when they fail.
    const edge = (i: number): StepInfo => ({ index: i + 1, total, call: this.#steps[i]?.call ?? 'kernel()', site: this.#steps[i]?.site ?? this.#created })
    try {
      try {
        await ctx.trackLoadOrder()
      } catch (cause) {
        throw this.#fail(ctx, edge(0), 'action', cause)
      }
      for (const [i, step] of this.#steps.entries()) {
        ctx.step = i + 1
        const info: StepInfo = { index: i + 1, total, call: step.call, site: step.site, after: step.kind === 'expect' ? ctx.lastAction?.call : undefined }
        try {
          await step.run(ctx, catalog)
          const action = step.kind === 'action' ? ctx.lastAction : undefined
          if (action?.failedResult && !this.#errorExpectedAfter(i)) {
            const kind = action.error ? ` (${action.error.kind})` : ''
            throw new StepFailure(
              'exit 0 (or an expectError() right after this step)',
              `exit ${action.failedResult.exitCode}${kind}\n${action.error?.line ?? action.failedResult.stderr.trim()}`,
            )
          }
        } catch (cause) {
          throw this.#fail(ctx, info, step.kind, cause)
        }
      }
      ctx.step = total + 1
      let modules, taint
      try {
        modules = await ctx.procModules()
        taint = await ctx.probe(['cat', '/proc/sys/kernel/tainted'])
      } catch (cause) {
        throw this.#fail(ctx, edge(Math.max(total - 1, 0)), 'expect', cause)
      }
      ok = true
      return {
        kind: 'kmodspec.run',
        backend: ctx.backend.name,
        release: ctx.backend.release,
        actions: ctx.actions.map((a) => {
          const last = a.failedResult ?? a.results.at(-1)
          return {
            call: a.call,
            exitCode: last?.exitCode ?? 0,
            stdout: a.results.map((r) => r.stdout).join(''),
            stderr: a.results.map((r) => r.stderr).join(''),
            dmesg: a.results.flatMap((r) => r.dmesg),
            error: a.error,
          }
        }),
        transcript: ctx.transcript,
        dmesg: ctx.transcript.filter((e) => !e.probe).flatMap((e) => e.dmesg),
        modules,
        tainted: taint.exitCode === 0 ? parseTainted(taint.stdout) : '',
        loadOrder: ctx.loadOrder ?? [],
      }
    } finally {
      recordChain({ backend: ctx.backend.name, release: ctx.backend.release, ok, transcript: ctx.transcript, replace: ctx.replacements }, this.#created?.file)
      await ctx.close()
    }
  }

  /** An expectError among the expectations between this action and the next one. */
  #errorExpectedAfter(index: number): boolean {
    for (const step of this.#steps.slice(index + 1)) {
      if (step.kind === 'action') return false
      if (step.call.startsWith('expectError(')) return true
    }
    return false
  }

  #fail(ctx: RunContext, step: StepInfo, kind: Step['kind'], cause: unknown): KmodspecError {
    const base = { step, backend: ctx.backend.name, transcript: ctx.transcript, replace: ctx.replacements, showProbes: kind === 'expect' }
    if (cause instanceof StepFailure) return new KmodspecError({ ...base, expected: cause.expected, actual: cause.actual, cause: cause.cause })
    if (cause instanceof BackendError)
      return new KmodspecError({
        ...base,
        expected: 'the command to finish',
        actual: `${cause.kind}: ${cause.message}${cause.report ? `\n${cause.report}` : ''}`,
        cause,
      })
    return new KmodspecError({
      ...base,
      expected: 'the step to run',
      actual: `${(cause as Error)?.name ?? 'Error'}: ${(cause as Error)?.message ?? String(cause)}`,
      cause,
    })
  }
}

/**
 * Start a chain of module actions and expectations against a kernel. Nothing runs until
 * the chain is awaited; then a backend is created (unless one is passed), every step runs
 * in order, and the backend is closed.
 * @example
 * await kernel({ modules: 'fixtures/hello' }).insmod('hello_feature').expectError('unknown-symbol', { symbol: 'api_test' })
 */
export function kernel(options?: KernelOptions): KernelChain {
  return new KernelChain(options)
}
