// lib/kstrtox.c and the simple_strto* of lib/vsprintf.c (Linux 6.1): string to integer, with the
// kernel's exact acceptance (one trailing newline, a leading '+', "0x" only in base 0/16) and errors.
import type { KernelFunction } from '../cpu/types.js'
import { readCString, u64, writeUint } from './guest.js'

export const EINVAL = 22
export const ERANGE = 34
const U64_MAX = (1n << 64n) - 1n
const lower = (c: number): number => c | 0x20
const isXdigit = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (lower(c) >= 0x61 && lower(c) <= 0x66)

/** _parse_integer_fixup_radix(): the base (0 guesses 8, 10 or 16) and where the digits start. */
export function fixupRadix(s: Uint8Array, base: number): { base: number; at: number } {
  const at = (i: number): number => s[i] ?? 0
  if (base === 0) {
    if (at(0) === 0x30) base = lower(at(1)) === 0x78 && isXdigit(at(2)) ? 16 : 8
    else base = 10
  }
  const skip = base === 16 && at(0) === 0x30 && lower(at(1)) === 0x78 ? 2 : 0
  return { base, at: skip }
}

/** _parse_integer_limit(): digits consumed, the value modulo 2^64, and whether it overflowed. */
export function parseInteger(s: Uint8Array, from: number, base: number, max = Infinity): { value: bigint; digits: number; overflow: boolean } {
  let value = 0n
  let digits = 0
  let overflow = false
  const b = BigInt(base)
  for (let i = from; digits < max && i < s.length; i++) {
    const c = s[i]!
    let v: number
    if (c >= 0x30 && c <= 0x39) v = c - 0x30
    else if (lower(c) >= 0x61 && lower(c) <= 0x66) v = lower(c) - 0x61 + 10
    else break
    if (v >= base) break
    const next = value * b + BigInt(v)
    if (next > U64_MAX) overflow = true
    value = next & U64_MAX
    digits++
  }
  return { value, digits, overflow }
}

type Result = { err: number; value?: bigint }

function kstrtoullAt(s: Uint8Array, from: number, base: number): Result {
  const r = fixupRadix(s.subarray(from), base)
  const p = parseInteger(s, from + r.at, r.base)
  if (p.overflow) return { err: -ERANGE }
  if (p.digits === 0) return { err: -EINVAL }
  let end = from + r.at + p.digits
  if (s[end] === 0x0a) end++
  if (end < s.length) return { err: -EINVAL }
  return { err: 0, value: p.value }
}

/** kstrtoull(): 0 and the value, or -EINVAL / -ERANGE. `s` holds the string without its NUL. */
export function kstrtoull(s: Uint8Array, base: number): Result {
  return kstrtoullAt(s, s[0] === 0x2b ? 1 : 0, base)
}

/** kstrtoll(): a leading '-' negates; values beyond long long are -ERANGE. */
export function kstrtoll(s: Uint8Array, base: number): Result {
  if (s[0] === 0x2d) {
    const r = kstrtoullAt(s, 1, base)
    if (r.err) return r
    const neg = BigInt.asIntN(64, -r.value!)
    if (neg > 0n) return { err: -ERANGE }
    return { err: 0, value: neg }
  }
  const r = kstrtoull(s, base)
  if (r.err) return r
  if (BigInt.asIntN(64, r.value!) < 0n) return { err: -ERANGE }
  return r
}

/** A kstrto* of a narrower type: the 64-bit parse, then -ERANGE unless the value survives the cast. */
function narrow(r: Result, bits: number, signed: boolean): Result {
  if (r.err) return r
  const cast = signed ? BigInt.asIntN(bits, r.value!) : BigInt.asUintN(bits, r.value!)
  return cast === r.value ? r : { err: -ERANGE }
}

/** kstrtobool(): y/Y/t/T/1/on -> true, n/N/f/F/0/off -> false (only the first one or two bytes count). */
export function kstrtobool(s: Uint8Array | undefined): { err: number; value?: boolean } {
  if (!s) return { err: -EINVAL }
  const c = s[0] ?? 0
  if ('yYtT1'.includes(String.fromCharCode(c)) && c) return { err: 0, value: true }
  if ('nNfF0'.includes(String.fromCharCode(c)) && c) return { err: 0, value: false }
  if (c === 0x6f || c === 0x4f) {
    const d = s[1] ?? 0
    if (d === 0x6e || d === 0x4e) return { err: 0, value: true }
    if (d === 0x66 || d === 0x46) return { err: 0, value: false }
  }
  return { err: -EINVAL }
}

/** simple_strtoull(): parses what it can (no errors, wraps on overflow); `end` is the index it stopped at. */
export function simpleStrtoull(s: Uint8Array, base: number): { value: bigint; end: number } {
  const r = fixupRadix(s, base)
  const p = parseInteger(s, r.at, r.base)
  return { value: p.value, end: r.at + p.digits }
}

/** simple_strtoll(): simple_strtoull after an optional '-'. */
export function simpleStrtoll(s: Uint8Array, base: number): { value: bigint; end: number } {
  if (s[0] === 0x2d) {
    const r = simpleStrtoull(s.subarray(1), base)
    return { value: BigInt.asUintN(64, -r.value), end: r.end + 1 }
  }
  return simpleStrtoull(s, base)
}

/**
 * kstrto* and simple_strto* as module-callable functions: read the guest string, write the result
 * through the pointer only on success, return 0 or -errno (simple_*: the value, *endp set).
 * @example kstrtoxFunctions().kstrtoint(call) // ("42", 10, &x) -> 0, x = 42
 */
export function kstrtoxFunctions(): Record<string, KernelFunction> {
  const make =
    (bits: 8 | 16 | 32 | 64, signed: boolean): KernelFunction =>
    (call) => {
      const s = readCString(call.memory, call.arg(0))
      const base = Number(call.arg(1) & 0xffffffffn)
      const r = narrow(signed ? kstrtoll(s, base) : kstrtoull(s, base), bits, signed)
      if (r.err) return u64(r.err)
      writeUint(call.memory, call.arg(2), (bits / 8) as 1 | 2 | 4 | 8, r.value!)
      return 0
    }
  const simple =
    (signed: boolean): KernelFunction =>
    (call) => {
      const s = readCString(call.memory, call.arg(0))
      const r = signed ? simpleStrtoll(s, Number(call.arg(2) & 0xffffffffn)) : simpleStrtoull(s, Number(call.arg(2) & 0xffffffffn))
      if (call.arg(1) !== 0n) writeUint(call.memory, call.arg(1), 8, call.arg(0) + BigInt(r.end))
      return r.value
    }
  return {
    kstrtoull: make(64, false),
    kstrtoll: make(64, true),
    _kstrtoul: make(64, false),
    _kstrtol: make(64, true),
    // kstrtoul/kstrtol are inline wrappers of kstrtoull/kstrtoll on 64-bit; kept for callers by name.
    kstrtoul: make(64, false),
    kstrtol: make(64, true),
    kstrtouint: make(32, false),
    kstrtoint: make(32, true),
    kstrtou16: make(16, false),
    kstrtos16: make(16, true),
    kstrtou8: make(8, false),
    kstrtos8: make(8, true),
    kstrtobool: (call) => {
      const r = kstrtobool(call.arg(0) === 0n ? undefined : readCString(call.memory, call.arg(0)))
      if (r.err) return u64(r.err)
      writeUint(call.memory, call.arg(1), 1, r.value ? 1 : 0)
      return 0
    },
    simple_strtoull: simple(false),
    simple_strtoul: simple(false),
    simple_strtoll: simple(true),
    simple_strtol: simple(true),
  }
}
