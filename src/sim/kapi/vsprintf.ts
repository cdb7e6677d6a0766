// The kernel's vsnprintf (lib/vsprintf.c, Linux 6.1): format_decode, number, string and the %p
// extensions, over guest memory. Output is produced whole; a buffer of size N holds its first N-1 bytes.
import type { GuestMemory, VaList } from '../cpu/types.js'
import { s32, u64, utf8 } from './guest.js'
import { pointer } from './pointer.js'
import {
  FIELD_WIDTH_MAX,
  LEFT,
  Out,
  PLUS,
  PRECISION_MAX,
  SIGN,
  SMALL,
  SPACE,
  SPECIAL,
  ZEROPAD,
  guestString,
  number,
  type Fmt,
  type Spec,
  type VsprintfOptions,
} from './vsprintf-core.js'

export * from './vsprintf-core.js'

type Qualifier = '' | 'H' | 'h' | 'l' | 'L' | 'z' | 't'
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39
const isAlnum = (c: number): boolean => isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)

/** vsnprintf() with an unlimited buffer; appends to `out`. */
export function format(f: Fmt, out: Out, fmt: Uint8Array, va: VaList): void {
  let i = 0
  const at = (k: number): number => fmt[k] ?? 0
  while (i < fmt.length && fmt[i] !== 0) {
    if (fmt[i] !== 0x25) {
      const start = i
      while (i < fmt.length && fmt[i] !== 0 && fmt[i] !== 0x25) i++
      out.pushBytes(fmt.subarray(start, i))
      continue
    }
    const spec: Spec = { flags: 0, fieldWidth: -1, precision: -1, base: 10 }
    i++
    for (;;) {
      const c = at(i)
      const flag = c === 0x2d ? LEFT : c === 0x2b ? PLUS : c === 0x20 ? SPACE : c === 0x23 ? SPECIAL : c === 0x30 ? ZEROPAD : 0
      if (!flag) break
      spec.flags |= flag
      i++
    }
    if (isDigit(at(i))) {
      let n = 0
      while (isDigit(at(i))) n = (n * 10 + at(i++) - 0x30) | 0
      spec.fieldWidth = (n << 8) >> 8 // the 24-bit bitfield
    } else if (at(i) === 0x2a) {
      i++
      let w = s32(va.next())
      if (w > FIELD_WIDTH_MAX || w < -(FIELD_WIDTH_MAX + 1)) {
        f.note(`vsprintf: field width ${w} too large; the kernel WARNs ("field width ${w} too large") and clamps it`)
        w = Math.max(-FIELD_WIDTH_MAX, Math.min(FIELD_WIDTH_MAX, w))
      }
      spec.fieldWidth = w
      if (spec.fieldWidth < 0) {
        spec.fieldWidth = -spec.fieldWidth
        spec.flags |= LEFT
      }
    }
    if (at(i) === 0x2e) {
      i++
      if (isDigit(at(i))) {
        let n = 0
        while (isDigit(at(i))) n = (n * 10 + at(i++) - 0x30) | 0
        spec.precision = Math.max(0, (n << 16) >> 16) // the 16-bit bitfield
      } else if (at(i) === 0x2a) {
        i++
        let p = s32(va.next())
        if (p > PRECISION_MAX || p < -(PRECISION_MAX + 1)) {
          f.note(`vsprintf: precision ${p} too large; the kernel WARNs ("precision ${p} too large") and clamps it`)
          p = Math.max(0, Math.min(PRECISION_MAX, p))
        }
        // Unlike C, the kernel turns a negative '*' precision into 0, not "no precision".
        spec.precision = Math.max(0, p)
      }
    }
    let q: Qualifier = ''
    const qc = at(i)
    if (qc === 0x68 || qc === 0x6c || qc === 0x4c || qc === 0x7a || qc === 0x74) {
      q = (qc === 0x4c ? 'L' : String.fromCharCode(qc)) as Qualifier
      i++
      if (qc === at(i) && qc === 0x6c) {
        q = 'L'
        i++
      } else if (qc === at(i) && qc === 0x68) {
        q = 'H'
        i++
      }
    }
    const conv = at(i)
    switch (conv) {
      case 0x63: {
        // %c
        i++
        if (!(spec.flags & LEFT)) while (--spec.fieldWidth > 0) out.push(0x20)
        out.push(Number(va.next() & 0xffn))
        while (--spec.fieldWidth > 0) out.push(0x20)
        continue
      }
      case 0x73:
        i++
        guestString(f, out, va.next(), spec)
        continue
      case 0x70: {
        i++
        const ext = fmt.subarray(i)
        pointer(f, out, ext, u64(va.next()), spec)
        while (isAlnum(at(i))) i++
        continue
      }
      case 0x25:
        i++
        out.push(0x25)
        continue
      case 0x6f:
        spec.base = 8
        break
      case 0x78:
        spec.flags |= SMALL
        spec.base = 16
        break
      case 0x58:
        spec.base = 16
        break
      case 0x64:
      case 0x69:
        spec.flags |= SIGN
        break
      case 0x75:
        break
      default: {
        // %n and anything unknown: the kernel WARNs once and stops formatting here.
        const what = String.fromCharCode(conv)
        if (f.opts.warnOnce) f.opts.warnOnce(`Please remove unsupported %${what} in format string`)
        else
          f.note(
            `vsprintf: unsupported %${what} in a format: the kernel stops the output there and WARNs once ("Please remove unsupported %${what} in format string")`,
          )
        return
      }
    }
    i++
    number(out, integerArg(va.next(), q, (spec.flags & SIGN) !== 0), spec)
  }
}

/** The va_arg type a qualifier selects, widened to 64 bits as `unsigned long long num` holds it. */
function integerArg(raw: bigint, q: Qualifier, signed: boolean): bigint {
  switch (q) {
    case 'L':
    case 'l':
    case 'z':
    case 't':
      return u64(raw)
    case 'H':
      return signed ? u64(BigInt.asIntN(8, raw)) : raw & 0xffn
    case 'h':
      return signed ? u64(BigInt.asIntN(16, raw)) : raw & 0xffffn
    default:
      return signed ? u64(BigInt.asIntN(32, raw)) : raw & 0xffffffffn
  }
}

function addNote(opts: VsprintfOptions): (text: string) => void {
  return (text) => {
    if (opts.notes && !opts.notes.includes(text)) opts.notes.push(text)
  }
}

/**
 * The kernel's vsnprintf with an unlimited buffer: the bytes it would write (no trailing NUL).
 * `fmt` is the format's bytes (or a JS string, UTF-8 encoded); arguments come from `va`.
 * A buffer of size N receives the first N-1 bytes; the return value of vsnprintf is the length.
 *
 * @throws GuestFault when a %s (or other) pointer faults where the kernel would oops.
 * @example
 * fromUtf8(vsprintf(mem, 'x=%08x %-4d|', listVa([0xbeef, 7]))) // 'x=0000beef 7   |'
 */
export function vsprintf(mem: GuestMemory, fmt: Uint8Array | string, va: VaList, opts: VsprintfOptions = {}): Uint8Array {
  const out = new Out()
  const f: Fmt = { mem, opts, note: addNote(opts), format: (o, s, v) => format(f, o, s, v) }
  format(f, out, typeof fmt === 'string' ? utf8(fmt) : fmt, va)
  return out.bytes()
}
