import { errno } from '../contract/index.js'
import { MODULE_NAME_LEN } from '../elf/module.js'
import { KmodspecError } from './errors.js'

/** What a function of a defined module does, in order: lines it prints and functions it calls. */
export interface FunctionModel {
  /** Lines printed with pr_info (KERN_INFO), without the trailing newline. */
  prints?: string | string[]
  /** Functions called (exports of this or another module, or of the kernel), after the prints. */
  calls?: string | string[]
}

/** module_param() types a defined module's parameter may have. */
export const PARAM_TYPES = ['int', 'uint', 'long', 'ulong', 'short', 'ushort', 'bool', 'charp', 'byte'] as const
export type ParamType = (typeof PARAM_TYPES)[number]

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
  params?: Record<string, { type: ParamType; description?: string; perm?: number }>
}

/** A validated {@link ModuleDefinition}, usable wherever a module is expected. */
export interface ModuleModel {
  readonly kind: 'kmodspec.module'
  readonly name: string
  readonly definition: Readonly<Required<Pick<ModuleDefinition, 'name' | 'license'>> & ModuleDefinition>
}

const ERRNO_NAMES: Readonly<Record<string, number>> = errno

/** What kind of problem a definition has (with {@link ModuleDefinitionError.field}, where). */
export type DefinitionProblem = 'not-a-definition' | 'bad-name' | 'bad-text' | 'bad-value' | 'duplicate' | 'undeclared-call'

/**
 * A {@link defineModule} definition that cannot be a module: `field` is where (`name`,
 * `init.returns`, `exports[1]`, `params.count.type`...), `problem` what kind, `message` one line
 * with what to write instead. The only error defineModule raises; the ELF writer takes what passed.
 * @example
 * try { defineModule({ name: 'a b' }) } catch (e) { if (e instanceof ModuleDefinitionError) e.field // 'name' }
 */
export class ModuleDefinitionError extends KmodspecError {
  override name = 'ModuleDefinitionError'
  constructor(
    readonly module: string,
    readonly field: string,
    readonly problem: DefinitionProblem,
    what: string,
    todo: string,
  ) {
    super({ title: `defineModule(${JSON.stringify(module)}): ${what}`, expected: todo, actual: what, backend: '-' })
    const line = `defineModule(${JSON.stringify(module)}): ${what}; ${todo}`
    Object.defineProperty(this, 'message', { value: line, enumerable: false, configurable: true, writable: true })
    this.stack = `ModuleDefinitionError: ${line}`
  }
}

function list(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value]
}

/** The init return value as a number (0 or a negative errno). */
export function initReturn(model: ModuleModel): number {
  const r = model.definition.init?.returns ?? 0
  return typeof r === 'number' ? r : -ERRNO_NAMES[r]!
}

const MODULE_NAME = new RegExp(`^[A-Za-z0-9_-]{1,${MODULE_NAME_LEN - 1}}$`)
const C_IDENT = /^[A-Za-z_]\w*$/
/** The symbols a module's own init and exit become: an export of the same name would clash. */
const RESERVED = new Set(['init_module', 'cleanup_module'])

/** Every rule a definition must meet to be written as a .ko; throws the first one broken. */
function validate(definition: ModuleDefinition): void {
  if (typeof definition !== 'object' || definition === null) {
    throw new ModuleDefinitionError(
      '?',
      '(definition)',
      'not-a-definition',
      `the definition is ${definition === null ? 'null' : typeof definition}`,
      "defineModule({ name: 'my_module', ... })",
    )
  }
  const name = definition.name
  const bad: (field: string, problem: DefinitionProblem, what: string, todo: string) => never = (field, problem, what, todo) => {
    throw new ModuleDefinitionError(typeof name === 'string' ? name : String(name), field, problem, what, todo)
  }
  if (typeof name !== 'string' || !MODULE_NAME.test(name))
    bad('name', 'bad-name', `name must be 1-${MODULE_NAME_LEN - 1} letters, digits, _ or -`, "name: 'my_module'")
  const text = (field: string, value: unknown, todo: string): void => {
    if (value === undefined) return
    if (typeof value !== 'string' || value === '') bad(field, 'bad-text', `${field} must be a non-empty string, got ${JSON.stringify(value)}`, todo)
    // .modinfo entries are NUL-terminated strings: a NUL inside would cut the value short.
    if (value.includes('\0')) bad(field, 'bad-text', `${field} ${JSON.stringify(value)} contains a NUL byte`, 'remove it')
  }
  text('license', definition.license, "license: 'GPL'")
  text('description', definition.description, "description: 'what it does'")
  text('author', definition.author, "author: 'Name <mail>'")
  text('version', definition.version, "version: '1.0'")
  text('vermagic', definition.vermagic, "leave vermagic out for the kernel's own, or give one such as '6.1.0-56-amd64 SMP preempt mod_unload modversions '")
  const { init, exit, exports = [], uses = [], functions = {}, params = {}, depends = [] } = definition
  if (init?.returns !== undefined) {
    const r = init.returns
    if (typeof r === 'number' ? !(Number.isInteger(r) && r <= 0 && r >= -0x80000000) : !(typeof r === 'string' && r in ERRNO_NAMES)) {
      bad('init.returns', 'bad-value', `init.returns is ${JSON.stringify(r)}`, `0, a negative errno (-19) or one of ${Object.keys(ERRNO_NAMES).join(', ')}`)
    }
  }
  if (!Array.isArray(exports)) bad('exports', 'bad-value', 'exports must be a list', "exports: ['my_func'] or [{ name: 'my_func', gpl: true }]")
  const exported = new Set<string>()
  exports.forEach((e, i) => {
    const n = typeof e === 'string' ? e : e?.name
    if (typeof n !== 'string' || !C_IDENT.test(n))
      bad(`exports[${i}]`, 'bad-name', `export ${JSON.stringify(e)} is not a C identifier`, "exports: ['my_func'] or [{ name: 'my_func', gpl: true }]")
    if (RESERVED.has(n))
      bad(`exports[${i}]`, 'duplicate', `export ${n} is the symbol of the module's own ${n === 'init_module' ? 'init' : 'exit'}`, 'export another name')
    if (exported.has(n)) bad(`exports[${i}]`, 'duplicate', `export ${n} is listed twice`, 'export it once')
    exported.add(n)
  })
  if (!Array.isArray(uses)) bad('uses', 'bad-value', 'uses must be a list', "uses: ['api_test']")
  uses.forEach((u, i) => {
    if (typeof u !== 'string' || !C_IDENT.test(u)) bad(`uses[${i}]`, 'bad-name', `uses holds ${JSON.stringify(u)}`, "uses: ['api_test']")
  })
  if (!Array.isArray(depends)) bad('depends', 'bad-value', 'depends must be a list', "depends: ['hello_api']")
  depends.forEach((d, i) => {
    if (typeof d !== 'string' || !MODULE_NAME.test(d))
      bad(`depends[${i}]`, 'bad-name', `depends holds ${JSON.stringify(d)}, not a module name`, "depends: ['hello_api']")
  })
  const bodies: Array<[string, FunctionModel | undefined]> = [
    ['init', init],
    ['exit', exit || undefined],
    ...Object.entries(functions).map(([f, b]): [string, FunctionModel] => [`functions.${f}`, b]),
  ]
  for (const [where, body] of bodies) {
    list(body?.calls).forEach((call) => {
      if (typeof call !== 'string' || (!exported.has(call) && !uses.includes(call) && !Object.hasOwn(functions, call))) {
        bad(
          `${where}.calls`,
          'undeclared-call',
          `${where} calls ${JSON.stringify(call)}, which it neither exports, defines nor uses`,
          `add '${String(call)}' to uses (or to exports and functions)`,
        )
      }
    })
    list(body?.prints).forEach((line) => {
      if (typeof line !== 'string') bad(`${where}.prints`, 'bad-text', `${where}.prints holds ${JSON.stringify(line)}`, 'strings')
    })
  }
  for (const [p, spec] of Object.entries(params)) {
    if (!C_IDENT.test(p)) bad(`params.${p}`, 'bad-name', `parameter ${JSON.stringify(p)} is not a C identifier`, "params: { count: { type: 'int' } }")
    if (!(PARAM_TYPES as readonly unknown[]).includes(spec?.type))
      bad(`params.${p}.type`, 'bad-value', `parameter ${p} has type ${JSON.stringify(spec?.type)}`, `one of ${PARAM_TYPES.join(', ')}`)
    text(`params.${p}.description`, spec.description, "description: 'what it sets'")
  }
}

/**
 * Describe a module in TypeScript: what init prints and returns, what exit prints and calls,
 * what it exports and uses. The simulated kernel runs it like a built `.ko`. Every rule is
 * checked here, once: a broken one throws {@link ModuleDefinitionError} naming the field.
 * @example
 * const flaky = defineModule({ name: 'flaky', init: { prints: '[flaky] probing', returns: 'ENODEV' } })
 * await kernel({ modules: [flaky] }).insmod('flaky').expectError('init-failed', { errno: 'ENODEV' })
 */
export function defineModule(definition: ModuleDefinition): ModuleModel {
  validate(definition)
  const { name, license = 'GPL' } = definition
  return Object.freeze({ kind: 'kmodspec.module' as const, name: name.replace(/-/g, '_'), definition: Object.freeze({ ...definition, name, license }) })
}

export function isModuleModel(value: unknown): value is ModuleModel {
  return typeof value === 'object' && value !== null && (value as ModuleModel).kind === 'kmodspec.module'
}

/** Lines and calls of a body, as the simulator's behaviour actions (KERN_INFO prints). */
export function behaviourActions(body: FunctionModel | undefined): Array<{ print: string } | { call: string }> {
  return [...list(body?.prints).map((line) => ({ print: `\u00016${line}\n` })), ...list(body?.calls).map((call) => ({ call }))]
}
