/** Static facts of one `.ko`, read from its ELF sections. */
export interface ModuleInfo {
  /** Name from `.gnu.linkonce.this_module` (what the kernel calls the module). */
  name: string
  /** Every `.modinfo` entry in file order; a key may repeat (alias, parm, parmtype, depends...). */
  modinfo: Array<{ key: string; value: string }>
  /** Symbols this module exports, in `__ksymtab`/`__ksymtab_gpl` order. */
  exports: Array<{ name: string; gpl: boolean; /** CRC from `__kcrctab`/`__kcrctab_gpl` when built with modversions. */ crc?: number }>
  /** Undefined symbols the module needs from the kernel or other modules, in symtab order. */
  imports: string[]
  /** `__versions` entries: CRCs this module was built against. */
  versions: Array<{ name: string; crc: number }>
  hasInit: boolean
  hasExit: boolean
  /** Section headers, for the loader's layout (lsmod Size) computation. */
  sections: ElfSection[]
  /** Symbol table, for the loader's layout (kallsyms core symbols) computation. */
  symbols: ElfSymbol[]
}

export interface ElfSection {
  index: number
  name: string
  type: number
  flags: bigint
  addr: bigint
  offset: number
  size: number
  link: number
  info: number
  addralign: number
  entsize: number
}

export interface ElfSymbol {
  name: string
  value: bigint
  size: number
  /** STB_* binding (0 local, 1 global, 2 weak). */
  bind: number
  /** STT_* type. */
  type: number
  /** Section index (0 undefined, 0xfff1 absolute, 0xfff2 common). */
  shndx: number
}

/** Thrown for anything that is not a readable x86-64 kernel module. */
export class ElfError extends Error {
  constructor(
    message: string,
    readonly code: 'not-elf' | 'truncated' | 'unsupported' | 'malformed' | 'not-a-module',
  ) {
    super(message)
    this.name = 'ElfError'
  }
}

/**
 * A module described by hand: what its init and exit do and what each exported function does.
 * Embedded in a synthetic `.ko` by `defineModule` (section `.kmodspec.behaviour`, JSON), or given
 * as an override by module name. A real module's behaviour is its own machine code, run on the
 * simulated CPU (src/sim/kernel/machine.ts).
 */
export type BehaviourAction =
  /** printk with the format exactly as in the binary, KERN_ prefix included (e.g. "\u00016[x] hi\n"). */
  | { print: string }
  /** Call a function by symbol name (an export of another module or of this one). */
  | {
      call: string
      /**
       * The call's first argument when it is a known string, e.g. the symbol name that
       * `symbol_get(x)` passes to `__symbol_get`. Optional: absent when unknown.
       */
      arg?: string
    }

export interface ModuleBehaviour {
  /** Absent when the module has no init function. */
  init?: { actions: BehaviourAction[]; /** 0 or a negative errno. */ returns: number }
  exit?: { actions: BehaviourAction[] }
  /** Exported (or local) functions by name. */
  functions: Record<string, BehaviourAction[]>
}
