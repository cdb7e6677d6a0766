// VaList sources: a plain list (tests, TypeScript callers) and a C va_list in guest memory.
import type { GuestMemory, VaList } from '../cpu/types.js'
import { readUint, u64, writeUint } from './guest.js'

/**
 * A VaList over given values, as if they had been passed in registers.
 * @example vsprintf(mem, 'x=%d', listVa([-1]))
 */
export function listVa(values: ReadonlyArray<bigint | number>): VaList {
  let i = 0
  return {
    next() {
      // A missing argument reads as 0: what a register nobody set would hold in the simulator.
      const v = values[i] ?? 0
      i++
      return u64(v)
    },
  }
}

/** Number of integer argument registers saved in the reg_save_area (rdi..r9). */
const GP_REGS_BYTES = 48

/**
 * The SysV AMD64 `va_list` at `ptr` (struct { u32 gp_offset; u32 fp_offset; void *overflow_arg_area;
 * void *reg_save_area; }), read as `va_arg(ap, long)` does; the advanced offsets are written back
 * so the caller's va_list moves on as it would in C.
 *
 * @example const va = guestVa(mem, call.arg(3)) // vsnprintf(buf, size, fmt, args)
 */
export function guestVa(mem: GuestMemory, ptr: bigint): VaList {
  return {
    next() {
      const gp = Number(readUint(mem, ptr, 4))
      if (gp < GP_REGS_BYTES) {
        const save = readUint(mem, ptr + 16n, 8)
        writeUint(mem, ptr, 4, gp + 8)
        return readUint(mem, save + BigInt(gp), 8)
      }
      const overflow = readUint(mem, ptr + 8n, 8)
      writeUint(mem, ptr + 8n, 8, overflow + 8n)
      return readUint(mem, overflow, 8)
    },
  }
}
