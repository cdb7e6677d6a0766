import { KmodspecError } from './errors.js'
import { errno } from '../sim/kernel/types.js'

/** What a function of a defined module does, in order: lines it prints and functions it calls. */
export interface FunctionModel {
  /** Lines printed with pr_info (KERN_INFO), without the trailing newline. */
  prints?: string | string[]
  /** Functions called (exports of this or another module, or of the kernel), after the prints. */
  calls?: string | string[]
}

/** A module described in TypeScript rather than built from C: runs on the simulated kernel only. */
export interface ModuleDefinition {
  /** The module name (what lsmod shows): letters, digits and `_`. */
  name: string
  /** MODULE_LICENSE (default 'GPL'); anything not GPL-compatible taints the kernel with P. */
  license?: string
  description?: string
  author?: string
  version?: string
  /** Functions this module exports: a name (EXPORT_SYMBOL) or `{ name, gpl: true }` (EXPORT_SYMBOL_GPL). */
  exports?: Array<string | { name: string; gpl?: boolean }>
  /** Symbols this module needs from the kernel or other modules (imports). */
  uses?: string[]
  /** What init prints and returns (0, a negative errno, or an errno name such as 'ENODEV'). No init: omit. */
  init?: FunctionModel & { returns?: number | string }
  /** What exit prints and calls; `false` for a module without exit (it cannot be unloaded). */
  exit?: FunctionModel | false
  /** Bodies of exported (or local) functions. */
  functions?: Record<string, FunctionModel>
  /** Modules it depends on (`modinfo -F depends`), as modpost would record them. */
  depends?: string[]
  /** `vermagic=`; default: the release plus the flags of Debian 12's 6.1 amd64 kernel. */
  vermagic?: string
  /** Module parameters by name. */
  params?: Record<string, { type: 'int' | 'uint' | 'long' | 'ulong' | 'short' | 'ushort' | 'bool' | 'charp' | 'byte'; description?: string; perm?: number }>
}

/** A validated {@link ModuleDefinition}, usable wherever a module is expected. */
export interface ModuleModel {
  readonly kind: 'kmodspec.module'
  readonly name: string
  readonly definition: Readonly<Required<Pick<ModuleDefinition, 'name' | 'license'>> & ModuleDefinition>
}

const ERRNO_NAMES: Readonly<Record<string, number>> = errno

function bad(name: string, what: string, todo: string): never {
  throw new KmodspecError({ title: `defineModule(${JSON.stringify(name)}): ${what}`, expected: todo, actual: what, backend: '-' })
}

function list(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value]
}

/** The init return value as a number (0 or a negative errno). */
export function initReturn(model: ModuleModel): number {
  const r = model.definition.init?.returns ?? 0
  return typeof r === 'number' ? r : -ERRNO_NAMES[r]!
}

/**
 * Describe a module in TypeScript: what init prints and returns, what exit prints and calls,
 * what it exports and uses. The simulated kernel runs it like a built `.ko`.
 * @example
 * const flaky = defineModule({ name: 'flaky', init: { prints: '[flaky] probing', returns: 'ENODEV' } })
 * await kernel({ modules: [flaky] }).insmod('flaky').expectError('init-failed', { errno: 'ENODEV' })
 */
export function defineModule(definition: ModuleDefinition): ModuleModel {
  const name = definition?.name
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,55}$/.test(name)) bad(String(name), 'name must be 1-55 letters, digits, _ or -', "name: 'my_module'")
  const { license = 'GPL', init, exit, exports = [], uses = [], functions = {}, params = {} } = definition
  if (typeof license !== 'string' || license === '') bad(name, 'license must be a non-empty string', "license: 'GPL'")
  if (init?.returns !== undefined) {
    const r = init.returns
    if (typeof r === 'number' ? !(Number.isInteger(r) && r <= 0) : !(r in ERRNO_NAMES)) {
      bad(name, `init.returns is ${JSON.stringify(r)}`, `0, a negative errno (-19) or one of ${Object.keys(ERRNO_NAMES).join(', ')}`)
    }
  }
  const exported = new Set<string>()
  for (const e of exports) {
    const n = typeof e === 'string' ? e : e?.name
    if (typeof n !== 'string' || !/^[A-Za-z_]\w*$/.test(n)) bad(name, `export ${JSON.stringify(e)} is not a C identifier`, "exports: ['my_func'] or [{ name: 'my_func', gpl: true }]")
    exported.add(n)
  }
  for (const u of uses) if (typeof u !== 'string' || !/^[A-Za-z_]\w*$/.test(u)) bad(name, `uses holds ${JSON.stringify(u)}`, "uses: ['api_test']")
  const bodies: Array<[string, FunctionModel | undefined]> = [['init', init], ['exit', exit || undefined], ...Object.entries(functions)]
  for (const [where, body] of bodies) {
    for (const call of list(body?.calls)) {
      if (!exported.has(call) && !uses.includes(call) && !(call in functions)) bad(name, `${where} calls ${call}, which it neither exports, defines nor uses`, `add '${call}' to uses (or to exports and functions)`)
    }
    for (const line of list(body?.prints)) if (typeof line !== 'string') bad(name, `${where}.prints holds ${JSON.stringify(line)}`, 'strings')
  }
  for (const [p, spec] of Object.entries(params)) {
    if (!/^[A-Za-z_]\w*$/.test(p) || typeof spec?.type !== 'string') bad(name, `parameter ${JSON.stringify(p)} is malformed`, "params: { count: { type: 'int' } }")
  }
  return Object.freeze({ kind: 'kmodspec.module' as const, name: name.replace(/-/g, '_'), definition: Object.freeze({ ...definition, name, license }) })
}

export function isModuleModel(value: unknown): value is ModuleModel {
  return typeof value === 'object' && value !== null && (value as ModuleModel).kind === 'kmodspec.module'
}

/** Lines and calls of a body, as the simulator's behaviour actions (KERN_INFO prints). */
export function behaviourActions(body: FunctionModel | undefined): Array<{ print: string } | { call: string }> {
  return [...list(body?.prints).map((line) => ({ print: `\u00016${line}\n` })), ...list(body?.calls).map((call) => ({ call }))]
}

