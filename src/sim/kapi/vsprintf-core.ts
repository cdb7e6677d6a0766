// The helpers of the kernel's vsnprintf (lib/vsprintf.c, Linux 6.1) that vsprintf.ts and the %p extensions
// (pointer.ts) share: flags, field spec, output buffer, number(), string(). Apart so pointer.ts need not import vsprintf.ts.
import type { GuestMemory, VaList } from '../cpu/types.js'
import { PAGE_SIZE, isErrValue, readCString, u64, utf8 } from './guest.js'

/** What kallsyms says about an address (the loader's and the kernel's symbol tables). */
export interface SymbolInfo {
  name: string
  /** Address minus the symbol's start. */
  offset: bigint
  /** Distance to the next symbol (kallsyms' size, not st_size); undefined for a vmlinux function (not in the profile). */
  size?: bigint
  /** The module that holds it; undefined for vmlinux. */
  module?: string
}

/** Options of {@link vsprintf}. */
export interface VsprintfOptions {
  /** kallsyms_lookup: used by %pS %ps %pB. */
  resolveSymbol?: (addr: bigint) => SymbolInfo | undefined
  /** Caveats are added here (each once): what the VM would print that the simulator cannot know. */
  notes?: string[]
  /** /proc/sys/kernel/kptr_restrict (0 on the pinned kernel: %pK hashes like %p). */
  kptrRestrict?: number
  /** Stand-in for the boot-keyed siphash of %p (default: a fixed 64-bit mix). */
  hashPointer?: (addr: bigint) => bigint
  /** format_decode's WARN_ONCE for an unsupported conversion: gets the message (without newline). */
  warnOnce?: (message: string) => void
}

// printf_spec flags (lib/vsprintf.c).
export const SIGN = 1
export const LEFT = 2
export const PLUS = 4
export const SPACE = 8
export const ZEROPAD = 16
export const SMALL = 32
export const SPECIAL = 64

export interface Spec {
  flags: number
  /** -1 when not given (24-bit signed in the kernel). */
  fieldWidth: number
  /** -1 when not given (16-bit signed in the kernel). */
  precision: number
  base: number
}

export const FIELD_WIDTH_MAX = (1 << 23) - 1
export const PRECISION_MAX = (1 << 15) - 1

/** Growable output; the kernel's `buf`/`end` pair with an unlimited end. */
export class Out {
  private buf = new Uint8Array(64)
  length = 0
  push(byte: number): void {
    if (this.length === this.buf.length) this.grow(this.length + 1)
    this.buf[this.length++] = byte
  }
  pushBytes(bytes: Uint8Array): void {
    if (this.length + bytes.length > this.buf.length) this.grow(this.length + bytes.length)
    this.buf.set(bytes, this.length)
    this.length += bytes.length
  }
  pushAscii(s: string): void {
    for (let i = 0; i < s.length; i++) this.push(s.charCodeAt(i))
  }
  repeat(byte: number, n: number): void {
    for (let i = 0; i < n; i++) this.push(byte)
  }
  /** Inserts `n` copies of `byte` before the last `len` bytes (move_right in widen_string). */
  insertBefore(len: number, byte: number, n: number): void {
    if (this.length + n > this.buf.length) this.grow(this.length + n)
    const start = this.length - len
    this.buf.copyWithin(start + n, start, this.length)
    this.buf.fill(byte, start, start + n)
    this.length += n
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length)
  }
  private grow(min: number): void {
    const next = new Uint8Array(Math.max(min, this.buf.length * 2))
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
  }
}

/** Context shared by the helpers of one vsprintf call. */
export interface Fmt {
  mem: GuestMemory
  opts: VsprintfOptions
  note(text: string): void
  /** vsnprintf() itself, for a format inside the format (%pV's struct va_format). */
  format(out: Out, fmt: Uint8Array, va: VaList): void
}

/** number(): an integer with sign, "0x"/"0" prefix, precision and field width, as the kernel pads. */
export function number(out: Out, value: bigint, spec: Spec): void {
  let num = u64(value)
  let flags = spec.flags
  let fieldWidth = spec.fieldWidth
  let precision = spec.precision
  const base = spec.base
  const needPfx = (flags & SPECIAL) !== 0 && base !== 10
  const isZero = num === 0n
  const locase = flags & SMALL
  if (flags & LEFT) flags &= ~ZEROPAD
  let sign = 0
  if (flags & SIGN) {
    if (BigInt.asIntN(64, num) < 0n) {
      sign = 0x2d
      num = u64(-BigInt.asIntN(64, num))
      fieldWidth--
    } else if (flags & PLUS) {
      sign = 0x2b
      fieldWidth--
    } else if (flags & SPACE) {
      sign = 0x20
      fieldWidth--
    }
  }
  if (needPfx) {
    if (base === 16) fieldWidth -= 2
    else if (!isZero) fieldWidth--
  }
  // Number's toString is several times cheaper than BigInt's; use it while the value is exact.
  let digits = num <= 0x1fffffffffffffn ? Number(num).toString(base) : num.toString(base)
  if (base === 16 && !locase) digits = digits.toUpperCase()
  const i = digits.length
  if (i > precision) precision = i
  fieldWidth -= precision
  if (!(flags & (ZEROPAD | LEFT))) while (--fieldWidth >= 0) out.push(0x20)
  if (sign) out.push(sign)
  if (needPfx) {
    if (base === 16 || !isZero) out.push(0x30)
    if (base === 16) out.push(0x58 | locase)
  }
  if (!(flags & LEFT)) {
    const c = flags & ZEROPAD ? 0x30 : 0x20
    while (--fieldWidth >= 0) out.push(c)
  }
  while (i <= --precision) out.push(0x30)
  out.pushAscii(digits)
  while (--fieldWidth >= 0) out.push(0x20)
}

/** special_hex_number(): "0x" and `2*size` zero-padded hex digits. */
export function specialHex(out: Out, value: bigint, size: number): void {
  number(out, value, { flags: SPECIAL | SMALL | ZEROPAD, fieldWidth: 2 + 2 * size, precision: -1, base: 16 })
}

/** widen_string(): pads the last `n` bytes written to the field width. */
export function widen(out: Out, n: number, spec: Spec): void {
  if (n >= spec.fieldWidth) return
  const spaces = spec.fieldWidth - n
  if (!(spec.flags & LEFT)) out.insertBefore(n, 0x20, spaces)
  else out.repeat(0x20, spaces)
}

/** string_nocheck() over bytes already in hand. */
export function stringBytes(out: Out, s: Uint8Array, spec: Spec): void {
  const lim = spec.precision < 0 ? s.length : Math.min(spec.precision, s.length)
  const nul = s.subarray(0, lim).indexOf(0)
  const len = nul >= 0 ? nul : lim
  out.pushBytes(s.subarray(0, len))
  widen(out, len, spec)
}

/** error_string(): a message capped at 16 characters unless a precision is given. */
export function errorString(out: Out, s: string, spec: Spec): void {
  stringBytes(out, utf8(s), spec.precision === -1 ? { ...spec, precision: 16 } : spec)
}

/** check_pointer(): "(null)" or "(efault)" for pointers the kernel refuses to follow; true when printed. */
export function checkPointer(out: Out, ptr: bigint, spec: Spec): boolean {
  const p = u64(ptr)
  if (p === 0n) {
    errorString(out, '(null)', spec)
    return true
  }
  if (p < BigInt(PAGE_SIZE) || isErrValue(p)) {
    errorString(out, '(efault)', spec)
    return true
  }
  return false
}

/** string(): a guest C string; a bad pointer beyond check_pointer faults, as the kernel would oops. */
export function guestString(f: Fmt, out: Out, ptr: bigint, spec: Spec): void {
  if (checkPointer(out, ptr, spec)) return
  const max = spec.precision < 0 ? Number.MAX_SAFE_INTEGER : spec.precision
  stringBytes(out, readCString(f.mem, ptr, max), spec)
}
