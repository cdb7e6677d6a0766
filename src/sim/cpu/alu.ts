// Integer arithmetic with x86 flags. 64-bit values travel as two unsigned 32-bit halves
// (lo, hi): a result's low half is returned, its high half left in `rh`. BigInt is used only
// for the rare wide cases (128-bit mul/div, rcl/rcr), never on the common paths.

export const TWO32 = 0x100000000
const MASK = [0, 0xff, 0xffff, 0, 0xffffffff]
const SIGN = [0, 0x80, 0x8000, 0, 0x80000000]

/** Parity flag of a byte: 1 when it has an even number of set bits. */
export const PARITY = new Uint8Array(256)
for (let i = 0; i < 256; i++) {
  let b = i
  b ^= b >> 4
  b ^= b >> 2
  b ^= b >> 1
  PARITY[i] = (b & 1) ^ 1
}

/** ALU operation numbers, in opcode order (00 add .. 38 cmp). */
export const AluOp = { ADD: 0, OR: 1, ADC: 2, SBB: 3, AND: 4, SUB: 5, XOR: 6, CMP: 7 } as const

/** Flags (each 0 or 1) and the arithmetic that sets them. */
export class Alu {
  cf = 0
  pf = 0
  af = 0
  zf = 0
  sf = 0
  of = 0
  df = 0
  /** Interrupt flag, modelled only so pushf/popf and cli/sti round-trip. */
  iflag = 1
  /** High half of the last 64-bit result. */
  rh = 0

  /** Condition code cc (the low nibble of jcc/setcc/cmovcc) on the current flags. */
  cond(cc: number): boolean {
    let r: number
    // prettier-ignore
    switch (cc >> 1) {
      case 0: r = this.of; break
      case 1: r = this.cf; break
      case 2: r = this.zf; break
      case 3: r = this.cf | this.zf; break
      case 4: r = this.sf; break
      case 5: r = this.pf; break
      case 6: r = this.sf ^ this.of; break
      default: r = this.zf | (this.sf ^ this.of); break
    }
    return (r !== 0) !== ((cc & 1) === 1)
  }

  /** RFLAGS as a number (bit 1 always set). */
  get eflags(): number {
    return this.cf | 2 | (this.pf << 2) | (this.af << 4) | (this.zf << 6) | (this.sf << 7) | (this.iflag << 9) | (this.df << 10) | (this.of << 11)
  }
  set eflags(v: number) {
    this.cf = v & 1
    this.pf = (v >> 2) & 1
    this.af = (v >> 4) & 1
    this.zf = (v >> 6) & 1
    this.sf = (v >> 7) & 1
    this.iflag = (v >> 9) & 1
    this.df = (v >> 10) & 1
    this.of = (v >> 11) & 1
  }

  /** Sets ZF/SF/PF of a result of `size` bytes. */
  szp(size: number, lo: number, hi: number): void {
    if (size === 8) {
      this.zf = (lo | hi) === 0 ? 1 : 0
      this.sf = hi >>> 31
    } else {
      this.zf = lo === 0 ? 1 : 0
      this.sf = (lo & SIGN[size]!) !== 0 ? 1 : 0
    }
    this.pf = PARITY[lo & 0xff]!
  }

  /** One of the eight ALU ops (AluOp) on size-byte operands; returns the result (for CMP too). */
  arith(op: number, size: number, a: number, ah: number, b: number, bh: number): number {
    if (size === 8) return this.arith64(op, a, ah, b, bh)
    const mask = MASK[size]!
    const sign = SIGN[size]!
    let r: number
    // prettier-ignore
    switch (op) {
      case 0: case 2: {
        const c = op === 2 ? this.cf : 0
        const s = a + b + c
        r = size === 4 ? s >>> 0 : s & mask
        this.cf = s > mask ? 1 : 0
        this.of = ((a ^ r) & (b ^ r) & sign) !== 0 ? 1 : 0
        this.af = ((a ^ b ^ r) & 0x10) !== 0 ? 1 : 0
        break
      }
      case 3: case 5: case 7: {
        const c = op === 3 ? this.cf : 0
        const s = a - b - c
        r = size === 4 ? s >>> 0 : s & mask
        this.cf = s < 0 ? 1 : 0
        this.of = ((a ^ b) & (a ^ r) & sign) !== 0 ? 1 : 0
        this.af = ((a ^ b ^ r) & 0x10) !== 0 ? 1 : 0
        break
      }
      case 1: r = (a | b) >>> 0; this.cf = this.of = this.af = 0; break
      case 4: r = (a & b) >>> 0; this.cf = this.of = this.af = 0; break
      default: r = (a ^ b) >>> 0; this.cf = this.of = this.af = 0; break
    }
    this.zf = r === 0 ? 1 : 0
    this.sf = (r & sign) !== 0 ? 1 : 0
    this.pf = PARITY[r & 0xff]!
    this.rh = 0
    return r
  }

  private arith64(op: number, a: number, ah: number, b: number, bh: number): number {
    let lo: number
    let hi: number
    // prettier-ignore
    switch (op) {
      case 0: case 2: {
        let s = a + b + (op === 2 ? this.cf : 0)
        let c = 0
        if (s >= TWO32) {
          s -= TWO32
          c = 1
        }
        lo = s
        const t = ah + bh + c
        hi = t >>> 0
        this.cf = t >= TWO32 ? 1 : 0
        this.of = ((ah ^ hi) & (bh ^ hi) & 0x80000000) !== 0 ? 1 : 0
        this.af = ((a ^ b ^ lo) & 0x10) !== 0 ? 1 : 0
        break
      }
      case 3: case 5: case 7: {
        let s = a - b - (op === 3 ? this.cf : 0)
        let c = 0
        if (s < 0) {
          s += TWO32
          c = 1
        }
        lo = s
        const t = ah - bh - c
        hi = t >>> 0
        this.cf = t < 0 ? 1 : 0
        this.of = ((ah ^ bh) & (ah ^ hi) & 0x80000000) !== 0 ? 1 : 0
        this.af = ((a ^ b ^ lo) & 0x10) !== 0 ? 1 : 0
        break
      }
      case 1: lo = (a | b) >>> 0; hi = (ah | bh) >>> 0; this.cf = this.of = this.af = 0; break
      case 4: lo = (a & b) >>> 0; hi = (ah & bh) >>> 0; this.cf = this.of = this.af = 0; break
      default: lo = (a ^ b) >>> 0; hi = (ah ^ bh) >>> 0; this.cf = this.of = this.af = 0; break
    }
    this.zf = (lo | hi) === 0 ? 1 : 0
    this.sf = hi >>> 31
    this.pf = PARITY[lo & 0xff]!
    this.rh = hi
    return lo
  }

  /** inc (dec = false) or dec: like add/sub 1 but CF is kept. */
  incdec(dec: boolean, size: number, a: number, ah: number): number {
    const cf = this.cf
    const r = this.arith(dec ? 5 : 0, size, a, ah, 1, 0)
    this.cf = cf
    return r
  }

  /** Shift/rotate group 2 (sub: 0 rol, 1 ror, 2 rcl, 3 rcr, 4 shl, 5 shr, 6 sal, 7 sar) by `count`. */
  shift(sub: number, size: number, a: number, ah: number, count: number): number {
    const bits = size * 8
    const n = count & (size === 8 ? 63 : 31)
    if (n === 0) {
      this.rh = size === 8 ? ah : 0
      return a
    }
    if (sub === 2 || sub === 3) return this.rcx(sub === 2, size, a, ah, n)
    if (size === 8) return this.shift64(sub, a, ah, n)
    const mask = MASK[size]!
    const sign = SIGN[size]!
    let r: number
    this.rh = 0
    // prettier-ignore
    switch (sub) {
      case 0: case 1: {
        const k = n % bits
        r = k === 0 ? a : sub === 0 ? ((a << k) | (a >>> (bits - k))) & mask : ((a >>> k) | (a << (bits - k))) & mask
        r >>>= 0
        if (sub === 0) {
          this.cf = r & 1
          this.of = ((r & sign) !== 0 ? 1 : 0) ^ this.cf
        } else {
          this.cf = (r & sign) !== 0 ? 1 : 0
          this.of = this.cf ^ ((r & (sign >>> 1)) !== 0 ? 1 : 0)
        }
        return r
      }
      case 4: case 6:
        r = n >= 32 ? 0 : (a << n) & mask
        r >>>= 0
        this.cf = n > bits ? 0 : (a >>> (bits - n)) & 1
        this.of = ((r & sign) !== 0 ? 1 : 0) ^ this.cf
        break
      case 5:
        r = n >= 32 ? 0 : a >>> n
        this.cf = (a >>> (n - 1)) & 1
        if (n > 32) this.cf = 0
        this.of = (a & sign) !== 0 ? 1 : 0
        break
      default: {
        const sa = size === 4 ? a | 0 : size === 2 ? (a << 16) >> 16 : (a << 24) >> 24
        r = (sa >> Math.min(n, 31)) & mask
        r >>>= 0
        this.cf = (sa >> Math.min(n - 1, 31)) & 1
        this.of = 0
        break
      }
    }
    this.af = 0
    this.szp(size, r, 0)
    return r
  }

  private shift64(sub: number, a: number, ah: number, n: number): number {
    let lo: number
    let hi: number
    // prettier-ignore
    switch (sub) {
      case 0: case 1: {
        const left = sub === 0 ? n : 64 - n
        shl(a, ah, left)
        const l1 = sl
        const h1 = sh
        shr(a, ah, 64 - left)
        lo = (l1 | sl) >>> 0
        hi = (h1 | sh) >>> 0
        if (sub === 0) {
          this.cf = lo & 1
          this.of = (hi >>> 31) ^ this.cf
        } else {
          this.cf = hi >>> 31
          this.of = this.cf ^ ((hi >>> 30) & 1)
        }
        this.rh = hi
        return lo
      }
      case 4: case 6:
        this.cf = bit64(a, ah, 64 - n)
        shl(a, ah, n)
        lo = sl
        hi = sh
        this.of = (hi >>> 31) ^ this.cf
        break
      case 5:
        this.cf = bit64(a, ah, n - 1)
        shr(a, ah, n)
        lo = sl
        hi = sh
        this.of = ah >>> 31
        break
      default:
        this.cf = bit64(a, ah, n - 1)
        sar(a, ah, n)
        lo = sl
        hi = sh
        this.of = 0
        break
    }
    this.af = 0
    this.szp(8, lo, hi)
    this.rh = hi
    return lo
  }

  /** rcl/rcr through CF (rare: BigInt). */
  private rcx(left: boolean, size: number, a: number, ah: number, n: number): number {
    const bits = BigInt(size * 8)
    const k = BigInt(n % (size * 8 + 1))
    const full = (BigInt(this.cf) << bits) | (size === 8 ? (BigInt(ah) << 32n) | BigInt(a) : BigInt(a))
    const width = bits + 1n
    const m = (1n << width) - 1n
    const rot = left ? ((full << k) | (full >> (width - k))) & m : ((full >> k) | (full << (width - k))) & m
    const r = rot & ((1n << bits) - 1n)
    // A count that is a multiple of size+1 keeps CF; OF is then undefined, and hardware computes it anyway.
    if (k !== 0n) this.cf = Number(rot >> bits)
    const msb = Number(r >> (bits - 1n)) & 1
    this.of = left ? msb ^ this.cf : msb ^ (Number(r >> (bits - 2n)) & 1)
    this.rh = size === 8 ? Number(r >> 32n) : 0
    return Number(r & 0xffffffffn)
  }

  /** shld/shrd: shift `a` by n, filling from `b`. */
  shiftDouble(left: boolean, size: number, a: number, ah: number, b: number, bh: number, count: number): number {
    const n = count & (size === 8 ? 63 : 31)
    if (n === 0) {
      this.rh = size === 8 ? ah : 0
      return a
    }
    const bits = BigInt(size * 8)
    const m = (1n << bits) - 1n
    const va = size === 8 ? (BigInt(ah) << 32n) | BigInt(a) : BigInt(a)
    const vb = size === 8 ? (BigInt(bh) << 32n) | BigInt(b) : BigInt(b)
    const k = BigInt(n)
    let r: bigint
    if (left) {
      const wide = (va << bits) | vb
      r = (wide << k) >> bits
      this.cf = Number((va >> (bits - k)) & 1n)
    } else {
      const wide = (vb << bits) | va
      r = wide >> k
      this.cf = Number((va >> (k - 1n)) & 1n)
    }
    r &= m
    const lo = Number(r & 0xffffffffn)
    const hi = size === 8 ? Number(r >> 32n) : 0
    this.of = Number(((r ^ va) >> (bits - 1n)) & 1n)
    this.af = 0
    this.szp(size, size === 2 ? lo & 0xffff : lo, hi)
    this.rh = hi
    return size === 2 ? lo & 0xffff : lo
  }
}

// Scratch outputs of the 64-bit shift helpers (no allocation).
let sl = 0
let sh = 0
function shl(lo: number, hi: number, n: number): void {
  if (n === 0) {
    sl = lo
    sh = hi
  } else if (n < 32) {
    sh = ((hi << n) | (lo >>> (32 - n))) >>> 0
    sl = (lo << n) >>> 0
  } else if (n < 64) {
    sh = (lo << (n - 32)) >>> 0
    sl = 0
  } else {
    sl = sh = 0
  }
}
function shr(lo: number, hi: number, n: number): void {
  if (n === 0) {
    sl = lo
    sh = hi
  } else if (n < 32) {
    sl = ((lo >>> n) | (hi << (32 - n))) >>> 0
    sh = hi >>> n
  } else if (n < 64) {
    sl = hi >>> (n - 32)
    sh = 0
  } else {
    sl = sh = 0
  }
}
function sar(lo: number, hi: number, n: number): void {
  if (n < 32) {
    sl = ((lo >>> n) | (hi << (32 - n))) >>> 0
    sh = (hi >> n) >>> 0
  } else {
    sl = (hi >> (n - 32)) >>> 0
    sh = (hi >> 31) >>> 0
  }
}
function bit64(lo: number, hi: number, n: number): number {
  return n < 32 ? (lo >>> n) & 1 : (hi >>> (n - 32)) & 1
}

/** Unsigned 32x32 -> 64 multiply: returns the low half; the high half in `mulHi`. */
export let mulHi = 0
export function umul32(a: number, b: number): number {
  const al = a & 0xffff
  const ah = a >>> 16
  const bl = b & 0xffff
  const bh = b >>> 16
  const ll = al * bl
  const cross = al * bh + ah * bl + Math.floor(ll / 65536)
  mulHi = (ah * bh + Math.floor(cross / 65536)) >>> 0
  return Math.imul(a, b) >>> 0
}

/** 64-bit two's complement (lo, hi) as a BigInt, unsigned. */
export function big(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)
}
