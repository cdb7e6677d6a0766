// The rest of lib/string.c and lib/hexdump.c that modules use: case-insensitive compares, token
// splitting, trimming, sysfs-style matching and hex conversions (Linux 6.1).
import type { CallArgs, KernelFunction } from '../cpu/types.js'
import type { KapiContext } from './context.js'
import { isSpace, toLower } from './ctype.js'
import { readCString, readUint, u64, writeUint } from './guest.js'

const EINVAL = 22

/** hex_to_bin(): 0-15, or -1 for anything else. */
export function hexToBin(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  const cu = c & 0xdf
  if (cu >= 0x41 && cu <= 0x46) return cu - 0x41 + 10
  return -1
}

/** sysfs_streq(): equal, ignoring one trailing newline on either side. */
export function sysfsStreq(a: Uint8Array, b: Uint8Array): boolean {
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  const ca = a[i] ?? 0
  const cb = b[i] ?? 0
  if (ca === cb) return true
  if (!ca && cb === 0x0a && i + 1 === b.length) return true
  if (ca === 0x0a && i + 1 === a.length && !cb) return true
  return false
}

/**
 * @example textFunctions(ctx).strcasecmp(call) // ("ABC", "abd") -> -1
 */
export function textFunctions(ctx: KapiContext): Record<string, KernelFunction> {
  const mem = ctx.memory
  const str = (call: CallArgs, i: number) => readCString(mem, call.arg(i))
  const strArray = (call: CallArgs, match: (item: Uint8Array, s: Uint8Array) => boolean): bigint => {
    const s = str(call, 2)
    const n = Number(call.arg(1))
    for (let i = 0; i < n; i++) {
      const item = readUint(mem, call.arg(0) + BigInt(i * 8), 8)
      if (item === 0n) break
      if (match(readCString(mem, item), s)) return BigInt(i)
    }
    return u64(-EINVAL)
  }
  const span = (call: CallArgs, accept: boolean): number => {
    const s = str(call, 0)
    const set = new Set(str(call, 1))
    let i = 0
    while (i < s.length && set.has(s[i]!) === accept) i++
    return i
  }
  const skip = (addr: bigint): bigint => {
    while (isSpace(mem.read(addr, 1)[0]!)) addr++ // one byte or a fault
    return addr
  }
  return {
    strcasecmp: (call) => {
      const a = str(call, 0)
      const b = str(call, 1)
      for (let i = 0; ; i++) {
        const c1 = toLower(a[i] ?? 0)
        const c2 = toLower(b[i] ?? 0)
        if (c1 !== c2 || c1 === 0) return u64(c1 - c2)
      }
    },
    strncasecmp: (call) => {
      let len = Number(call.arg(2))
      if (!len) return 0
      const a = readCString(mem, call.arg(0), len)
      const b = readCString(mem, call.arg(1), len)
      let c1 = 0
      let c2 = 0
      for (let i = 0; len > 0; i++, len--) {
        c1 = a[i] ?? 0
        c2 = b[i] ?? 0
        if (!c1 || !c2) break
        if (c1 === c2) continue
        c1 = toLower(c1)
        c2 = toLower(c2)
        if (c1 !== c2) break
      }
      return u64(c1 - c2)
    },
    // strsep(&s, delims): cut at the first delimiter, advance *s past it (NULL at the end).
    strsep: (call) => {
      const begin = readUint(mem, call.arg(0), 8)
      if (begin === 0n) return 0
      const s = readCString(mem, begin)
      const delims = new Set(str(call, 1))
      const at = s.findIndex((c) => delims.has(c))
      if (at < 0) writeUint(mem, call.arg(0), 8, 0)
      else {
        mem.write(begin + BigInt(at), new Uint8Array(1))
        writeUint(mem, call.arg(0), 8, begin + BigInt(at) + 1n)
      }
      return begin
    },
    strspn: (call) => span(call, true),
    strcspn: (call) => span(call, false),
    strpbrk: (call) => {
      const n = span(call, false)
      return n < str(call, 0).length ? call.arg(0) + BigInt(n) : 0
    },
    strreplace: (call) => {
      const s = str(call, 0)
      const from = Number(call.arg(1) & 0xffn)
      const to = Number(call.arg(2) & 0xffn)
      const out = s.map((c) => (c === from ? to : c))
      if (s.length) mem.write(call.arg(0), out)
      return call.arg(0) + BigInt(s.length)
    },
    skip_spaces: (call) => skip(call.arg(0)),
    // strim(): cut trailing spaces in place, return the first non-space.
    strim: (call) => {
      const s = str(call, 0)
      if (!s.length) return call.arg(0)
      let end = s.length - 1
      while (end >= 0 && isSpace(s[end]!)) end--
      mem.write(call.arg(0) + BigInt(end + 1), new Uint8Array(1))
      return skip(call.arg(0))
    },
    memchr_inv: (call) => {
      const n = Number(call.arg(2))
      const b = n ? mem.read(call.arg(0), n) : new Uint8Array(0)
      const v = Number(call.arg(1) & 0xffn)
      const i = b.findIndex((x) => x !== v)
      return i < 0 ? 0 : call.arg(0) + BigInt(i)
    },
    sysfs_streq: (call) => (sysfsStreq(str(call, 0), str(call, 1)) ? 1 : 0),
    match_string: (call) => strArray(call, (item, s) => Buffer.from(item).equals(Buffer.from(s))),
    __sysfs_match_string: (call) => strArray(call, sysfsStreq),
    hex_to_bin: (call) => u64(hexToBin(Number(call.arg(0) & 0xffn))),
    hex2bin: (call) => {
      const n = Number(call.arg(2))
      const src = n ? mem.read(call.arg(1), 2 * n) : new Uint8Array(0)
      for (let i = 0; i < n; i++) {
        // src holds 2 * n bytes.
        const hi = hexToBin(src[2 * i]!)
        const lo = hexToBin(src[2 * i + 1]!)
        if (hi < 0 || lo < 0) return u64(-EINVAL)
        mem.write(call.arg(0) + BigInt(i), new Uint8Array([(hi << 4) | lo]))
      }
      return 0
    },
    bin2hex: (call) => {
      const n = Number(call.arg(2))
      const src = n ? mem.read(call.arg(1), n) : new Uint8Array(0)
      const hex = new TextEncoder().encode(Array.from(src, (b) => b.toString(16).padStart(2, '0')).join(''))
      if (hex.length) mem.write(call.arg(0), hex)
      return call.arg(0) + BigInt(hex.length)
    },
  }
}
