// Small readers and writers over GuestMemory, and the integer conversions C code relies on.
import type { GuestMemory } from '../cpu/types.js'

export const PAGE_SIZE = 4096
/** include/linux/err.h: the top 4095 addresses are error pointers. */
export const MAX_ERRNO = 4095n
const U64 = (1n << 64n) - 1n

/** The value as an unsigned 64-bit integer (two's complement for negatives). */
export function u64(v: bigint | number): bigint {
  return BigInt.asUintN(64, BigInt(v))
}
/** The low 64 bits read as signed. */
export function s64(v: bigint): bigint {
  return BigInt.asIntN(64, v)
}
/** The low 32 bits read as signed (a C `int` argument). */
export function s32(v: bigint): number {
  return Number(BigInt.asIntN(32, v))
}
/** The low 32 bits read as unsigned. */
export function u32(v: bigint): number {
  return Number(BigInt.asUintN(32, v))
}
/** IS_ERR_VALUE: the last 4095 values of the address space. */
export function isErrValue(v: bigint): boolean {
  return u64(v) >= U64 - MAX_ERRNO + 1n
}

/** Reads a little-endian unsigned integer of `size` bytes. */
export function readUint(mem: GuestMemory, addr: bigint, size: 1 | 2 | 4 | 8): bigint {
  const b = mem.read(addr, size)
  let v = 0n
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!) // read() returned `size` bytes
  return v
}

/** Writes a little-endian integer of `size` bytes (truncated to that size). */
export function writeUint(mem: GuestMemory, addr: bigint, size: 1 | 2 | 4 | 8, value: bigint | number): void {
  let v = BigInt.asUintN(size * 8, BigInt(value))
  const b = new Uint8Array(size)
  for (let i = 0; i < size; i++) {
    b[i] = Number(v & 0xffn)
    v >>= 8n
  }
  mem.write(addr, b)
}

/**
 * Reads bytes from `addr` up to (not including) the first NUL, at most `max` bytes, page by
 * page so that a string ending just before an unmapped page reads fine.
 * @throws GuestFault as the kernel would fault on the first unreadable byte it touches.
 */
export function readCString(mem: GuestMemory, addr: bigint, max = Number.MAX_SAFE_INTEGER): Uint8Array {
  const parts: Uint8Array[] = []
  let total = 0
  let at = addr
  // Small reads first: most strings are short, and a read costs per byte on the guest side.
  let chunkSize = 64
  while (total < max) {
    const toPageEnd = PAGE_SIZE - Number(at & BigInt(PAGE_SIZE - 1))
    const chunk = mem.read(at, Math.min(toPageEnd, max - total, chunkSize))
    chunkSize = Math.min(chunkSize * 4, PAGE_SIZE)
    const nul = chunk.indexOf(0)
    if (nul >= 0) {
      parts.push(chunk.subarray(0, nul))
      total += nul
      break
    }
    parts.push(chunk)
    total += chunk.length
    at += BigInt(chunk.length)
  }
  const [only] = parts
  return parts.length === 1 && only ? only : concat(parts, total)
}

/** `strnlen` over guest memory: how many bytes before a NUL, at most `max`. */
export function guestStrnlen(mem: GuestMemory, addr: bigint, max: number): number {
  return readCString(mem, addr, max).length
}

export function concat(parts: Uint8Array[], total = parts.reduce((n, p) => n + p.length, 0)): Uint8Array {
  const out = new Uint8Array(total)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
export const utf8 = (s: string): Uint8Array => encoder.encode(s)
export const fromUtf8 = (b: Uint8Array): string => decoder.decode(b)
/** Bytes of a string of code units < 256 (a format written in a test as a JS string). */
export function latin1(s: string): Uint8Array {
  const b = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff
  return b
}
