/** What the simulator must know of a kernel build to load modules the way it would. */
export interface KernelProfile {
  /** `uname -r`, e.g. `6.1.0-56-amd64`. */
  release: string
  /** Full vermagic string a module must carry, e.g. `6.1.0-56-amd64 SMP preempt mod_unload modversions `. */
  vermagic: string
  /** `uname -v`-like version string, informational. */
  version?: string
  /** Every export in Module.symvers (vmlinux and in-tree modules). Profiles are shared: never mutate. */
  readonly symbols: ReadonlyMap<string, KernelSymbol>
  readonly config: Readonly<KernelConfigFacts>
}

export interface KernelSymbol {
  name: string
  crc: number
  gpl: boolean
  /** `vmlinux`, or the in-tree module path that exports it (e.g. `drivers/usb/core/usbcore`). */
  module: string
  namespace?: string
}

/** Config options that change loader behaviour. */
export interface KernelConfigFacts {
  /** CONFIG_MODULE_SIG: unsigned modules taint (E) with a message. */
  moduleSig: boolean
  /** CONFIG_MODULE_SIG_FORCE: unsigned modules are refused. */
  moduleSigForce: boolean
  /** CONFIG_MODULE_FORCE_UNLOAD: rmmod -f works. */
  moduleForceUnload: boolean
  /** CONFIG_MODVERSIONS. */
  modversions: boolean
  /** CONFIG_MODULE_UNLOAD. */
  moduleUnload: boolean
  /** PAGE_SIZE, for the layout (lsmod Size). */
  pageSize: number
  /** CONFIG_STRICT_MODULE_RWX: each layout part page-aligned. */
  strictModuleRwx: boolean
  /** CONFIG_KALLSYMS: core symbols kept in the module image. */
  kallsyms: boolean
  /** CONFIG_PREEMPT_RT (Debian's -rt kernels); absent in profiles stored before it was recorded. */
  preemptRt?: boolean
}
