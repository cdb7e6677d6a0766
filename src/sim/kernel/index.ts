import type { KernelProfile } from '../../profile/types.js'
import { finitModule, initModule } from './load.js'
import { Printk } from './printk.js'
import { ModuleArea } from './alloc.js'
import type { KernelState } from './state.js'
import type { ModuleBehaviour, SimKernel } from './types.js'
import { deleteModule } from './unload.js'
import { listDir, readFile, writeFile } from './views.js'
import { bootKernel } from './boot.js'

export * from './types.js'

/** Options of {@link createSimKernel}. */
export interface SimKernelOptions {
  /** The kernel build to behave like (release, vermagic, vmlinux exports, config). */
  profile: KernelProfile
  /** Behaviour by module name, instead of what the `.ko` shows. */
  overrides?: Map<string, ModuleBehaviour>
  /** Monotonic clock at boot, in microseconds (default 4.2 s: a VM that just booted). */
  bootTimeUs?: number
  /** Kernel command line (/proc/cmdline); built-in modules' `mod.param=value` words set their parameters. */
  cmdline?: string
}

/** The first module's address on the captured 6.1 VM (MODULES_VADDR plus what boot allocated there). */
const MODULES_BASE = 0xffffffffc0201000n

/**
 * A simulated Linux kernel with the module loader of 6.1: init_module/finit_module/
 * delete_module return 0 or -errno and log what the real kernel logs.
 *
 * @example
 * const k = createSimKernel({ profile: await loadEmbeddedProfile() })
 * k.finitModule(await readFile('hello_api.ko'), '', 0) // 0
 * k.readFile('/proc/modules') // "hello_api 16384 0 - Live 0xffffffffc0a00000 (OE)\n"
 */
export function createSimKernel(options: SimKernelOptions): SimKernel {
  const { profile, overrides = new Map(), bootTimeUs = 4_200_000 } = options
  if (!profile || typeof profile.vermagic !== 'string' || !(profile.symbols instanceof Map)) {
    throw new TypeError('createSimKernel: options.profile must be a KernelProfile (e.g. from loadEmbeddedProfile())')
  }
  const k: KernelState = {
    profile,
    modules: [],
    tainted: 0,
    debugLocks: true,
    once: new Set(),
    modulesDisabled: false,
    printk: new Printk(bootTimeUs),
    area: new ModuleArea(MODULES_BASE, profile.config.pageSize),
    overrides,
    notes: [],
  }
  bootKernel(k, options.cmdline)
  const log = k.printk
  return {
    release: profile.release,
    initModule: (image, params) => initModule(k, image, params),
    finitModule: (image, params, flags) => finitModule(k, image, params, flags),
    deleteModule: (name, flags) => deleteModule(k, name, flags),
    readFile: (path) => readFile(k, path),
    writeFile: (path, data) => writeFile(k, path, data),
    listDir: (path) => listDir(k, path),
    log: {
      since: (from) => log.since(from),
      nextSeq: () => log.nextSeq(),
      now: () => log.now(),
      clear: () => log.clear(),
      visible: () => log.visible(),
    },
    tick: (us) => log.tick(us),
    takeNotes: () => k.notes.splice(0),
  }
}
