// IDR (lib/idr.c): integer ids for pointers, per struct idr; idr_for_each runs the module's callback.
import type { KernelFunction } from '../cpu/types.js'
import type { KapiContext } from './context.js'
import { readUint, s32, writeUint } from './guest.js'
import { callIf, type RegistryHost } from './registry.js'

const ENOSPC = 28n
const INT_MAX = 0x7fffffff

/**
 * @example idrFunctions(ctx, host).idr_alloc(call) // the lowest free id in [start, end)
 */
export function idrFunctions(ctx: KapiContext, host: RegistryHost): Record<string, KernelFunction> {
  const idrs = new Map<bigint, Map<number, bigint>>()
  const of = (idr: bigint) => idrs.get(idr) ?? idrs.set(idr, new Map()).get(idr)!
  const sorted = (idr: bigint) => [...of(idr)].sort((a, b) => a[0] - b[0])
  return {
    idr_alloc: (c) => {
      const ids = of(c.arg(0))
      const start = Math.max(0, s32(c.arg(2)))
      const end = s32(c.arg(3)) <= 0 ? INT_MAX : s32(c.arg(3))
      for (let id = start; id < end; id++) {
        if (!ids.has(id)) {
          ids.set(id, c.arg(1))
          return BigInt(id)
        }
      }
      return BigInt.asUintN(64, -ENOSPC)
    },
    idr_find: (c) => of(c.arg(0)).get(s32(c.arg(1))) ?? 0n,
    idr_remove: (c) => {
      const ids = of(c.arg(0))
      const id = s32(c.arg(1))
      const p = ids.get(id) ?? 0n
      ids.delete(id)
      return p
    },
    idr_get_next: (c) => {
      const from = s32(readUint(ctx.memory, c.arg(1), 4))
      const next = sorted(c.arg(0)).find(([id]) => id >= from)
      if (!next) return 0n
      writeUint(ctx.memory, c.arg(1), 4, next[0])
      return next[1]
    },
    idr_for_each: (c) => {
      for (const [id, p] of sorted(c.arg(0))) {
        const r = s32(callIf(ctx, host, c.arg(1), [BigInt(id), p, c.arg(2)], 'idr_for_each'))
        if (r !== 0) return BigInt.asUintN(64, BigInt(r))
      }
      return 0n
    },
    idr_destroy: (c) => void idrs.delete(c.arg(0)),
  }
}
