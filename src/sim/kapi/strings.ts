// lib/string.c, the x86-64 mem* routines and the printf-to-buffer family (lib/vsprintf.c) of 6.1,
// as module-callable functions over guest memory.
import type { CallArgs, GuestMemory, KernelFunction, VaList } from '../cpu/types.js'
import { GuestFault } from '../cpu/types.js'
import { fmtOptions, type KapiContext } from './context.js'
import { readCString, u64 } from './guest.js'
import { KernelBug } from './heap.js'
import { guestVa } from './va.js'
import { vsprintf } from './vsprintf.js'

const E2BIG = 7
const INT_MAX = 0x7fffffff

const len = (call: CallArgs, i: number): number => Number(call.arg(i))
const bytes = (mem: GuestMemory, addr: bigint, n: number): Uint8Array => (n === 0 ? new Uint8Array(0) : mem.read(addr, n))
const put = (mem: GuestMemory, addr: bigint, data: Uint8Array): void => {
  if (data.length) mem.write(addr, data)
}
const withNul = (b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(b.length + 1)
  out.set(b)
  return out
}
const sign = (a: number, b: number): number => (a < b ? -1 : 1)

/** strcmp/strncmp of lib/string.c: -1, 0 or 1 at the first differing unsigned byte. */
function compare(mem: GuestMemory, a: bigint, b: bigint, max: number): number {
  for (let i = 0; i < max; i++) {
    // A 1-byte read returns one byte or faults.
    const c1 = mem.read(a + BigInt(i), 1)[0]!
    const c2 = mem.read(b + BigInt(i), 1)[0]!
    if (c1 !== c2) return sign(c1, c2)
    if (!c1) break
  }
  return 0
}

/** load_unaligned_zeropad(): 8 bytes, the ones past a page that faults read as zero. */
function loadZeropad(mem: GuestMemory, addr: bigint): Uint8Array {
  try {
    return mem.read(addr, 8)
  } catch (e) {
    if (!(e instanceof GuestFault)) throw e
    const out = new Uint8Array(8)
    for (let i = 0; i < 8; i++) {
      try {
        out[i] = mem.read(addr + BigInt(i), 1)[0]!
      } catch (f) {
        if (i === 0 || !(f instanceof GuestFault)) throw f
        break
      }
    }
    return out
  }
}

/** strscpy(): word at a time like x86-64 (zeroes the rest of the last word), -E2BIG when cut. */
export function strscpy(mem: GuestMemory, dest: bigint, src: bigint, count: number): bigint {
  if (count === 0 || count > INT_MAX) return u64(-E2BIG)
  let res = 0
  let max = count
  while (max >= 8) {
    const w = loadZeropad(mem, src + BigInt(res))
    const z = w.indexOf(0)
    if (z >= 0) {
      const out = new Uint8Array(8)
      out.set(w.subarray(0, z))
      mem.write(dest + BigInt(res), out)
      return BigInt(res + z)
    }
    mem.write(dest + BigInt(res), w)
    res += 8
    count -= 8
    max -= 8
  }
  while (count) {
    const c = mem.read(src + BigInt(res), 1)
    mem.write(dest + BigInt(res), c)
    if (!c[0]) return BigInt(res)
    res++
    count--
  }
  if (res) mem.write(dest + BigInt(res - 1), new Uint8Array(1))
  return u64(-E2BIG)
}

/** vsnprintf into guest memory: the first size-1 bytes and a NUL; returns the full length. */
export function vsnprintfTo(ctx: KapiContext, buf: bigint, size: number, fmt: Uint8Array, va: VaList): number {
  // WARN_ON_ONCE(size > INT_MAX): nothing written, 0 returned.
  if (size > INT_MAX) return 0
  const out = vsprintf(ctx.memory, fmt, va, fmtOptions(ctx))
  if (size > 0) put(ctx.memory, buf, withNul(out.subarray(0, Math.min(out.length, size - 1))))
  return out.length
}

/** scnprintf's return: what was written, not what would have been. */
const written = (n: number, size: number): number => (n >= size ? (size === 0 ? 0 : size - 1) : n)

/**
 * The string and memory functions, bound to a context (the printf family needs its options and
 * the heap for kasprintf).
 * @example stringFunctions(ctx).strlen(call) // call.arg(0) -> "abc" -> 3
 */
export function stringFunctions(ctx: KapiContext): Record<string, KernelFunction> {
  const mem = ctx.memory
  const str = (call: CallArgs, i: number): Uint8Array => readCString(call.memory, call.arg(i))
  const fmtAt = (call: CallArgs, i: number): Uint8Array => readCString(call.memory, call.arg(i))
  const asprintf = (fmt: Uint8Array, va: VaList): bigint => {
    const out = vsprintf(mem, fmt, va, fmtOptions(ctx))
    const p = ctx.heap.kmalloc(out.length + 1, 'kasprintf')
    if (p !== 0n) put(mem, p, withNul(out))
    return p
  }
  return {
    memcpy: (call) => {
      put(mem, call.arg(0), bytes(mem, call.arg(1), len(call, 2)))
      return call.arg(0)
    },
    memmove: (call) => {
      put(mem, call.arg(0), bytes(mem, call.arg(1), len(call, 2)))
      return call.arg(0)
    },
    memset: (call) => {
      put(mem, call.arg(0), new Uint8Array(len(call, 2)).fill(Number(call.arg(1) & 0xffn)))
      return call.arg(0)
    },
    memcmp: (call) => {
      const a = bytes(mem, call.arg(0), len(call, 2))
      const b = bytes(mem, call.arg(1), len(call, 2))
      // a and b both hold len(call, 2) bytes.
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return u64(a[i]! - b[i]!)
      return 0
    },
    memchr: (call) => {
      const b = bytes(mem, call.arg(0), len(call, 2))
      const i = b.indexOf(Number(call.arg(1) & 0xffn))
      return i < 0 ? 0 : call.arg(0) + BigInt(i)
    },
    strlen: (call) => str(call, 0).length,
    strnlen: (call) => readCString(mem, call.arg(0), len(call, 1)).length,
    strcmp: (call) => u64(compare(mem, call.arg(0), call.arg(1), Infinity)),
    strncmp: (call) => u64(compare(mem, call.arg(0), call.arg(1), len(call, 2))),
    strcpy: (call) => {
      put(mem, call.arg(0), withNul(str(call, 1)))
      return call.arg(0)
    },
    // strncpy pads with NULs to count and does not terminate a source of count bytes or more.
    strncpy: (call) => {
      const n = len(call, 2)
      const s = readCString(mem, call.arg(1), n)
      const out = new Uint8Array(n)
      out.set(s)
      put(mem, call.arg(0), out)
      return call.arg(0)
    },
    strscpy: (call) => strscpy(mem, call.arg(0), call.arg(1), len(call, 2)),
    strlcpy: (call) => {
      const s = str(call, 1)
      const size = len(call, 2)
      if (size) put(mem, call.arg(0), withNul(s.subarray(0, Math.min(s.length, size - 1))))
      return s.length
    },
    strcat: (call) => {
      const d = str(call, 0)
      put(mem, call.arg(0) + BigInt(d.length), withNul(str(call, 1)))
      return call.arg(0)
    },
    strncat: (call) => {
      const d = str(call, 0)
      put(mem, call.arg(0) + BigInt(d.length), withNul(readCString(mem, call.arg(1), len(call, 2))))
      return call.arg(0)
    },
    strlcat: (call) => {
      const d = str(call, 0)
      const s = str(call, 1)
      const count = len(call, 2)
      // BUG_ON(dsize >= count) in lib/string.c.
      if (d.length >= count) throw new KernelBug('kernel BUG at lib/string.c:337!', 'bug', 'strlcat: the destination is already longer than count')
      put(mem, call.arg(0) + BigInt(d.length), withNul(s.subarray(0, Math.min(s.length, count - d.length - 1))))
      return d.length + s.length
    },
    strchr: (call) => {
      const s = str(call, 0)
      const c = Number(call.arg(1) & 0xffn)
      const i = c === 0 ? s.length : s.indexOf(c)
      return i < 0 ? 0 : call.arg(0) + BigInt(i)
    },
    strrchr: (call) => {
      const s = str(call, 0)
      const c = Number(call.arg(1) & 0xffn)
      const i = c === 0 ? s.length : s.lastIndexOf(c)
      return i < 0 ? 0 : call.arg(0) + BigInt(i)
    },
    strstr: (call) => {
      const hay = str(call, 0)
      const needle = str(call, 1)
      const i = Buffer.from(hay).indexOf(Buffer.from(needle))
      return i < 0 ? 0 : call.arg(0) + BigInt(i)
    },
    strnstr: (call) => {
      const needle = str(call, 1)
      const n = len(call, 2)
      if (needle.length === 0) return call.arg(0)
      const hay = bytes(mem, call.arg(0), Math.min(n, readCString(mem, call.arg(0), n).length))
      for (let i = 0; n - i >= needle.length; i++) {
        if (i + needle.length > hay.length) break
        if (Buffer.from(hay.subarray(i, i + needle.length)).equals(Buffer.from(needle))) return call.arg(0) + BigInt(i)
      }
      return 0
    },
    sprintf: (call) => vsnprintfTo(ctx, call.arg(0), INT_MAX, fmtAt(call, 1), call.varargs(2)),
    vsprintf: (call) => vsnprintfTo(ctx, call.arg(0), INT_MAX, fmtAt(call, 1), guestVa(mem, call.arg(2))),
    snprintf: (call) => vsnprintfTo(ctx, call.arg(0), len(call, 1), fmtAt(call, 2), call.varargs(3)),
    vsnprintf: (call) => vsnprintfTo(ctx, call.arg(0), len(call, 1), fmtAt(call, 2), guestVa(mem, call.arg(3))),
    scnprintf: (call) => written(vsnprintfTo(ctx, call.arg(0), len(call, 1), fmtAt(call, 2), call.varargs(3)), len(call, 1)),
    vscnprintf: (call) => written(vsnprintfTo(ctx, call.arg(0), len(call, 1), fmtAt(call, 2), guestVa(mem, call.arg(3))), len(call, 1)),
    kasprintf: (call) => asprintf(fmtAt(call, 1), call.varargs(2)),
    kvasprintf: (call) => asprintf(fmtAt(call, 1), guestVa(mem, call.arg(2))),
    // fortify_panic(name): pr_emerg then BUG() (lib/string_helpers.c).
    fortify_panic: (call) => {
      const name = new TextDecoder().decode(str(call, 0))
      ctx.printk.log(0, `detected buffer overflow in ${name}`)
      throw new KernelBug('kernel BUG at lib/string_helpers.c:1027!', 'bug', `fortify_panic(${name})`)
    },
  }
}
