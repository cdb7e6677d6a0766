// pointer() of lib/vsprintf.c (Linux 6.1): the %p extensions.
import { isErrValue, readCString, readUint, s64, u64, utf8 } from './guest.js'
import { errname } from './errname.js'
import { addressVal, bitmapList, bitmapString, fourccString, netdevBits, uuidString } from './pointer-bits.js'
import { SIGN, SMALL, ZEROPAD, checkPointer, errorString, guestString, number, stringBytes, type Fmt, type Out, type Spec } from './vsprintf-core.js'

const ch = (ext: Uint8Array, i: number): string => (i < ext.length && ext[i] !== 0 ? String.fromCharCode(ext[i]!) : '')

/** pointer_string(): the value in hex, 16 zero-padded digits unless a width is given. */
export function pointerString(out: Out, ptr: bigint, spec: Spec): void {
  const s = { ...spec, base: 16, flags: spec.flags | SMALL }
  if (s.fieldWidth === -1) {
    s.fieldWidth = 16
    s.flags |= ZEROPAD
  }
  number(out, ptr, s)
}

/** A fixed 64-bit mix (splitmix64's finalizer): the simulator's stand-in for siphash with the boot key. */
export function stableHash(addr: bigint): bigint {
  let z = u64(addr + 0x9e3779b97f4a7c15n)
  z = u64((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n)
  z = u64((z ^ (z >> 27n)) * 0x94d049bb133111ebn)
  return z ^ (z >> 31n)
}

export const HASH_NOTE =
  '%p prints a hash of the pointer keyed at boot (siphash, random key): the VM prints a boot-specific 00000000xxxxxxxx value; the simulator prints a stable stand-in of the same shape'

/** ptr_to_id(): NULL and error pointers as they are, anything else as the low 32 bits of its hash. */
function defaultPointer(f: Fmt, out: Out, ptr: bigint, spec: Spec): void {
  if (ptr === 0n || isErrValue(ptr)) return pointerString(out, ptr, spec)
  f.note(HASH_NOTE)
  const hash = (f.opts.hashPointer ?? stableHash)(ptr) & 0xffffffffn
  pointerString(out, hash, spec)
}

/** symbol_string() with sprint_symbol / sprint_symbol_no_offset / sprint_backtrace. */
function symbolString(f: Fmt, out: Out, ptr: bigint, spec: Spec, ext: Uint8Array): void {
  const kind = ch(ext, 0)
  const backtrace = kind === 'B'
  const addr = backtrace ? u64(ptr - 1n) : ptr
  const sym = f.opts.resolveSymbol?.(addr)
  let text: string
  if (!sym) {
    if (!f.opts.resolveSymbol) f.note(`vsprintf: %p${kind} without a symbol table: printed the raw address as kallsyms does for an unknown one`)
    text = `0x${ptr.toString(16)}`
  } else {
    text = sym.name
    if (kind !== 's') text += `+0x${(backtrace ? sym.offset + 1n : sym.offset).toString(16)}/0x${sym.size === undefined ? '?' : sym.size.toString(16)}`
    if (kind !== 's' && sym.size === undefined)
      f.note(`vsprintf: %p${kind} of ${sym.name}: the simulator knows the name of a kernel function, not its size, and prints '?' where the VM prints it`)
    if (sym.module) text += ` [${sym.module}]`
  }
  stringBytes(out, utf8(text), spec)
}

/** hex_string(): %*ph and its C/D/N separators, at most 64 bytes. */
function hexString(f: Fmt, out: Out, ptr: bigint, spec: Spec, ext: Uint8Array): void {
  if (spec.fieldWidth === 0) return
  if (checkPointer(out, ptr, spec)) return
  const sep = { C: ':', D: '-', N: '' }[ch(ext, 1)] ?? ' '
  const len = spec.fieldWidth > 0 ? Math.min(spec.fieldWidth, 64) : 1
  const bytes = f.mem.read(ptr, len)
  const parts = Array.from(bytes, (b) => b.toString(16).padStart(2, '0'))
  out.pushAscii(parts.join(sep))
}

/** mac_address_string(): %pM %pMF %pMR %pm %pmR. */
function macAddress(f: Fmt, out: Out, ptr: bigint, spec: Spec, ext: Uint8Array): void {
  if (checkPointer(out, ptr, spec)) return
  const mod = ch(ext, 1)
  const sep = mod === 'F' ? '-' : ':'
  const bytes = Array.from(f.mem.read(ptr, 6))
  if (mod === 'R') bytes.reverse()
  const hex = bytes.map((b) => b.toString(16).padStart(2, '0'))
  stringBytes(out, utf8(hex.join(ch(ext, 0) === 'M' ? sep : '')), spec)
}

/** ip4_string(): dotted quad; 'i' keeps leading zeros; h/l take host (little-endian) order. */
function ip4(bytes: Uint8Array, lead: boolean, order: string): string {
  const idx = order === 'h' || order === 'l' ? [3, 2, 1, 0] : [0, 1, 2, 3]
  return idx.map((k) => (lead ? String(bytes[k]).padStart(3, '0') : String(bytes[k]))).join('.')
}

/** ip6_compressed_string(): the longest run of zero words as "::", v4-mapped/ISATAP tails dotted. */
function ip6Compressed(b: Uint8Array): string {
  // b holds the 16 address bytes and i < 8.
  const word = (i: number): number => (b[2 * i]! << 8) | b[2 * i + 1]!
  const v4mapped = word(0) === 0 && word(1) === 0 && word(2) === 0 && word(3) === 0 && word(4) === 0 && word(5) === 0xffff
  const isatap = (word(4) | 0x0200) === 0x0200 && word(5) === 0x5efe
  const useV4 = v4mapped || isatap
  const range = useV4 ? 6 : 8
  let longest = 1
  let colonpos = -1
  for (let i = 0; i < range; i++) {
    let run = 0
    for (let j = i; j < range && word(j) === 0; j++) run++
    if (run > longest) {
      longest = run
      colonpos = i
    }
  }
  let s = ''
  let needColon = false
  for (let i = 0; i < range; i++) {
    if (i === colonpos) {
      if (needColon || i === 0) s += ':'
      s += ':'
      needColon = false
      i += longest - 1
      continue
    }
    if (needColon) s += ':'
    s += word(i).toString(16)
    needColon = true
  }
  if (useV4) {
    if (needColon) s += ':'
    s += ip4(b.subarray(12), false, 'n')
  }
  return s
}

/** ip_addr_string(): %pI4 %pi4 %pI6 %pi6 %pI6c. */
function ipAddr(f: Fmt, out: Out, ptr: bigint, spec: Spec, ext: Uint8Array): void {
  if (checkPointer(out, ptr, spec)) return
  const kind = ch(ext, 0)
  const ver = ch(ext, 1)
  if (ver === '4') return stringBytes(out, utf8(ip4(f.mem.read(ptr, 4), kind === 'i', ch(ext, 2))), spec)
  if (ver === '6') {
    const b = f.mem.read(ptr, 16)
    let s: string
    if (kind === 'I' && ch(ext, 2) === 'c') s = ip6Compressed(b)
    else {
      const words = Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16).padStart(4, '0'))
      s = words.join(kind === 'I' ? ':' : '')
    }
    return stringBytes(out, utf8(s), spec)
  }
  if (ver === 'S') return unmodelled(f, out, ext, spec)
  errorString(out, kind === 'i' ? '(%pi?)' : '(%pI?)', spec)
}

/** va_format(): %pV formats a struct va_format { const char *fmt; va_list *va; } in place. */
function vaFormat(f: Fmt, out: Out, ptr: bigint, spec: Spec): void {
  if (checkPointer(out, ptr, spec)) return
  const fmt = readCString(f.mem, readUint(f.mem, ptr, 8))
  const vaPtr = readUint(f.mem, ptr + 8n, 8)
  // va_copy: work on a copy of the caller's 24-byte va_list so theirs does not move.
  f.format(out, fmt, copiedVa(f, f.mem.read(vaPtr, 24)))
}

/** A va_list copied out of guest memory, advanced locally (va_copy semantics). */
function copiedVa(f: Fmt, raw: Uint8Array): { next(): bigint } {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
  let gp = view.getUint32(0, true)
  let overflow = view.getBigUint64(8, true)
  const save = view.getBigUint64(16, true)
  return {
    next() {
      if (gp < 48) {
        const v = readUint(f.mem, save + BigInt(gp), 8)
        gp += 8
        return v
      }
      const v = readUint(f.mem, overflow, 8)
      overflow += 8n
      return v
    },
  }
}

/** An extension the simulator does not format: say so in the output and in a note. */
function unmodelled(f: Fmt, out: Out, ext: Uint8Array, spec: Spec): void {
  let name = ''
  for (let i = 0; i < ext.length && /[A-Za-z0-9]/.test(ch(ext, i)); i++) name += ch(ext, i)
  f.note(`vsprintf: %p${name} is not modelled by the simulator; the VM prints the formatted object`)
  stringBytes(out, utf8(`(%p${name} not modelled)`), { ...spec, precision: -1 })
}

/**
 * pointer(): dispatch on the characters after "%p". `ext` starts right after the 'p'.
 */
export function pointer(f: Fmt, out: Out, ext: Uint8Array, ptr: bigint, spec: Spec): void {
  switch (ch(ext, 0)) {
    case 'S':
    case 's':
    case 'B':
      return symbolString(f, out, ptr, spec, ext)
    case 'h':
      return hexString(f, out, ptr, spec, ext)
    case 'M':
    case 'm':
      return macAddress(f, out, ptr, spec, ext)
    case 'I':
    case 'i':
      return ipAddr(f, out, ptr, spec, ext)
    case 'V':
      return vaFormat(f, out, ptr, spec)
    case 'K':
      return restricted(f, out, ptr, spec)
    case 'x':
      return pointerString(out, ptr, spec)
    case 'e':
      if (!isErrValue(ptr)) return defaultPointer(f, out, ptr, spec)
      return errPtr(out, ptr, spec)
    case 'U':
      return uuidString(f, out, ptr, spec, ext)
    case 'a':
      return addressVal(f, out, ptr, spec)
    case '4':
      return fourccString(f, out, ptr, spec, ext)
    case 'N':
      return netdevBits(f, out, ptr, spec, ext)
    case 'b':
      return ch(ext, 1) === 'l' ? bitmapList(f, out, ptr, spec) : bitmapString(f, out, ptr, spec)
    case 'u':
    case 'k':
      if (ch(ext, 1) === 's') return guestString(f, out, ptr, spec)
      return errorString(out, '(einval)', spec)
    case 'A':
      // CONFIG_RUST is off in Debian's 6.1: WARN_ONCE and this marker.
      f.note('vsprintf: %pA outside Rust: the kernel WARNs once ("Please remove %pA from non-Rust code")')
      return errorString(out, '(%pA?)', spec)
    case 'R':
    case 'r':
    case 'E':
    case 'd':
    case 't':
    case 'C':
    case 'D':
    case 'g':
    case 'G':
    case 'O':
    case 'f':
      return unmodelled(f, out, ext, spec)
    default:
      return defaultPointer(f, out, ptr, spec)
  }
}

/** restricted_pointer(): %pK by kptr_restrict (0: as %p; 1: real value for a CAP_SYSLOG reader; 2: zeros). */
function restricted(f: Fmt, out: Out, ptr: bigint, spec: Spec): void {
  const mode = f.opts.kptrRestrict ?? 0
  if (mode === 0) return defaultPointer(f, out, ptr, spec)
  // Mode 1 prints the pointer for a root caller (printk runs in the insmod task, which has CAP_SYSLOG).
  pointerString(out, mode === 1 ? ptr : 0n, spec)
}

/** err_ptr(): "-ENOMEM" for ERR_PTR(-12); an unnamed errno prints as a signed number. */
function errPtr(out: Out, ptr: bigint, spec: Spec): void {
  const err = Number(BigInt.asIntN(32, s64(ptr)))
  const name = errname(err)
  if (name) return stringBytes(out, utf8(name), spec)
  number(out, BigInt(err), { ...spec, flags: spec.flags | SIGN, base: 10 })
}
