import path from 'node:path'
import process from 'node:process'
import { resolveBackendName, type Backend, type BackendName, type ModuleTree } from '../backends/index.js'
import { isModuleModel, type ModuleModel } from './define.js'
import { KmodspecError } from './errors.js'

/** A place to look modules up: a directory (searched recursively), a `.ko` file, or a {@link defineModule} model. */
export type ModuleSource = string | ModuleModel

/** Options of {@link kernel}. */
export interface KernelOptions {
  /** 'sim' (default), 'qemu', ... or a Backend you created (it is then not closed by the chain). Else KMODSPEC_BACKEND. */
  backend?: BackendName | Backend
  /**
   * Where module names given to actions are looked up: directories of `.ko` files, `.ko`
   * files, module sources (a directory with a Kbuild or Makefile and .c files, built with
   * kbuild for the backend's release and cached), and defineModule() models. In a directory
   * with both sources and .ko files, the .ko files win when every one was built for the
   * backend's release (their vermagic); else the sources are built.
   * @example kernel({ modules: ['fixtures/hello', 'path/to/my_module'] })
   */
  modules?: ModuleSource | ModuleSource[]
  /** Kernel release for backends that have several (default: the backend's). */
  release?: string
  /** Milliseconds each command may take (default 60000). */
  timeout?: number
  /** Directory relative paths resolve against (default: process.cwd()). */
  cwd?: string
  /**
   * Kernel command line words for the run, e.g. 'foo.bar=1': /proc/cmdline on the simulator, boot
   * arguments of the VM (a saved state of their own); modprobe applies `mod.param=value` to mod.
   * @example kernel({ modules: 'fixtures/errors', cmdline: 'params.count=5' })
   */
  cmdline?: string
  /**
   * Which /lib/modules/<release> the run sees: 'installed' is the kernel's own tree (its modules, the
   * modules.* indexes, modules.builtin*) with your modules next to it once you install() them and
   * depmod(); 'empty' (the default, else KMODSPEC_TREE) is an empty directory.
   * @example kernel({ modules: 'my_module', tree: 'installed' }).install('my_module').depmod().modprobe('my_module')
   */
  tree?: ModuleTree
}

export interface NormalizedOptions {
  backend: BackendName | Backend
  backendName: string
  modules: ModuleSource[]
  release: string | undefined
  timeout: number
  cwd: string
  cmdline: string | undefined
  tree: ModuleTree | undefined
}

const KNOWN = ['backend', 'modules', 'release', 'timeout', 'cwd', 'cmdline', 'tree']

function fail(what: string, todo: string): never {
  throw new KmodspecError({ title: `kernel(): ${what}`, expected: todo, actual: what, backend: '?' })
}

/** Defaults in one place; each check says what to do instead. */
export function normalizeOptions(options: KernelOptions = {}): NormalizedOptions {
  if (typeof options !== 'object' || options === null) fail(`options must be an object, got ${typeof options}`, "kernel({ modules: 'fixtures/hello' })")
  const unknown = Object.keys(options).filter((k) => !KNOWN.includes(k))
  if (unknown.length > 0) fail(`unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}`, `only ${KNOWN.join(', ')}`)
  const { backend, modules = [], release, timeout = 60_000, cwd = process.cwd(), cmdline, tree } = options

  let backendName: string
  if (typeof backend === 'object' && backend !== null) {
    if (typeof backend.exec !== 'function' || typeof backend.release !== 'string')
      fail('backend is an object but not a Backend', "a backend name ('sim', 'qemu') or the result of createBackend()")
    backendName = backend.name
  } else {
    if (backend !== undefined && typeof backend !== 'string')
      fail(`backend must be a name or a Backend, got ${typeof backend}`, "backend: 'sim' or backend: 'qemu'")
    try {
      backendName = resolveBackendName(backend)
    } catch (error) {
      fail((error as Error).message, "backend: 'sim' or 'qemu' (or set KMODSPEC_BACKEND to one of them)")
    }
  }
  const list = Array.isArray(modules) ? modules : [modules]
  for (const m of list) {
    if (typeof m !== 'string' && !isModuleModel(m))
      fail(`modules holds ${typeof m === 'object' ? JSON.stringify(m) : String(m)}`, 'directories, .ko paths or defineModule() models')
  }
  if (release !== undefined && (typeof release !== 'string' || release === ''))
    fail(`release must be a non-empty string, got ${JSON.stringify(release)}`, "a kernel release such as '6.1.0-56-amd64', or leave it out")
  if (typeof timeout !== 'number' || !(timeout > 0)) fail(`timeout must be a positive number of milliseconds, got ${JSON.stringify(timeout)}`, 'timeout: 60000')
  if (typeof cwd !== 'string') fail(`cwd must be a path, got ${typeof cwd}`, 'cwd: a directory path')
  if (cmdline !== undefined && (typeof cmdline !== 'string' || /[\0\n]/.test(cmdline)))
    fail(`cmdline must be one line of kernel arguments, got ${JSON.stringify(cmdline)}`, "cmdline: 'foo.bar=1 quiet'")
  if (tree !== undefined && tree !== 'installed' && tree !== 'empty')
    fail(`tree must be 'installed' or 'empty', got ${JSON.stringify(tree)}`, "tree: 'installed' for the kernel's own /lib/modules/<release>, or leave it out")
  if (tree !== undefined && typeof backend === 'object' && backend !== null)
    fail(
      'tree is given with a Backend you created, which already has its tree',
      "createBackend({ backend: 'sim', tree: 'installed' }), or kernel({ backend: 'sim', tree: 'installed' })",
    )
  return {
    backend: (typeof backend === 'object' ? backend : backendName) as BackendName | Backend,
    backendName,
    modules: list.map((m) => (typeof m === 'string' ? path.resolve(cwd, m) : m)),
    release,
    timeout,
    cwd: path.resolve(cwd),
    cmdline,
    tree,
  }
}
