// The standard param_set_* / param_get_* helpers (kernel/params.c of 6.1) that a module's own
// kernel_param_ops call: loop's max_loop, for one, parses through param_set_int.
import type { KernelFunction } from '../cpu/types.js'
import { readCString, readUint, utf8, writeUint } from './guest.js'
import { kstrtoll, kstrtoull } from './kstrtox.js'

/** struct kernel_param: the variable pointer at +32. */
const KP_ARG = 32

/**
 * @example paramOpsFunctions().param_set_int(call) // *kp->arg = kstrtoint(val, 0)
 */
export function paramOpsFunctions(): Record<string, KernelFunction> {
  const set =
    (bits: 32 | 64, signed: boolean): KernelFunction =>
    (c) => {
      const s = readCString(c.memory, c.arg(0), 4096)
      const r = signed ? kstrtoll(s, 0) : kstrtoull(s, 0)
      const lo = signed ? -(1n << BigInt(bits - 1)) : 0n
      const hi = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n
      if (r.err) return BigInt.asUintN(64, BigInt(-r.err))
      if (r.value! < lo || r.value! > hi) return BigInt.asUintN(64, -34n)
      writeUint(c.memory, readUint(c.memory, c.arg(1) + BigInt(KP_ARG), 8), bits === 32 ? 4 : 8, r.value!)
      return 0n
    }
  // param_get_*(): sysfs_emit(buffer, "%d\n"): the length written.
  const get =
    (size: 4 | 8, signed: boolean): KernelFunction =>
    (c) => {
      const raw = readUint(c.memory, readUint(c.memory, c.arg(1) + BigInt(KP_ARG), 8), size)
      const v = signed ? BigInt.asIntN(size * 8, raw) : raw
      const text = utf8(`${v}\n\0`)
      c.memory.write(c.arg(0), text)
      return BigInt(text.length - 1)
    }
  return {
    param_set_int: set(32, true),
    param_set_uint: set(32, false),
    param_set_long: set(64, true),
    param_set_ulong: set(64, false),
    param_get_int: get(4, true),
    param_get_uint: get(4, false),
    param_get_long: get(8, true),
    param_get_ulong: get(8, false),
  }
}
