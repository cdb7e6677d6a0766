// What the kernel's registries share: the loader's module references (try_module_get on an owner)
// and calls back into module code (an alg's cra_init, a netdev's setup), given by the simulated kernel.
import { note, type KapiContext } from './context.js'
import { fromUtf8, readCString, readUint } from './guest.js'

/** What the registries need of the simulated kernel around them (sim/kernel's Machine gives it). */
export interface RegistryHost {
  /** try_module_get(owner): false for a module going away; a NULL owner (built-in) always succeeds. */
  moduleGet(owner: bigint): boolean
  /** module_put(owner). */
  modulePut(owner: bigint): void
  /** Runs module code at `fn` with integer arguments; undefined when it faulted or trapped (reported by the host). */
  callGuest(fn: bigint, args: bigint[]): bigint | undefined
  /** The name of the module whose struct module is at `owner`, when one is loaded there. */
  moduleName?(owner: bigint): string | undefined
}

/** A host with no loader: every reference succeeds, no module code runs (kapi's own tests). */
export const NO_HOST: RegistryHost = { moduleGet: () => true, modulePut: () => {}, callGuest: () => undefined }

/** A C string field of a guest struct, "" when the pointer is NULL. */
export function cstr(ctx: KapiContext, addr: bigint): string {
  return addr === 0n ? '' : fromUtf8(readCString(ctx.memory, addr, 4096))
}

/** A `const char *` field at `base + off`. */
export function strField(ctx: KapiContext, base: bigint, off: number): string {
  return cstr(ctx, readUint(ctx.memory, base + BigInt(off), 8))
}

/** A pointer field at `base + off`. */
export function ptrField(ctx: KapiContext, base: bigint, off: number): bigint {
  return readUint(ctx.memory, base + BigInt(off), 8)
}

/** Runs a module callback when there is one; 0 for a NULL pointer. A failed run is the host's to report; here it reads as 0 with a note. */
export function callIf(ctx: KapiContext, host: RegistryHost, fn: bigint, args: bigint[], what: string): bigint {
  if (fn === 0n) return 0n
  const r = host.callGuest(fn, args)
  if (r === undefined) {
    note(ctx, `${what}: the module's callback did not return; the simulator went on as if it returned 0`)
    return 0n
  }
  return r
}

/** A read-only view of files under /proc and /sys that a registry adds. */
export interface RegistryView {
  read(path: string): string | undefined
  list(path: string): string[] | undefined
}
