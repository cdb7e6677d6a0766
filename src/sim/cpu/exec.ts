// The less frequent instructions (everything outside the interpreter loop's inline cases):
// multiply/divide, bit scans, string instructions, system-ish ones, traps.
import * as alu from './alu.js'
import * as dec from './decode.js'
import { Machine, RAX, RBP, RBX, RCX, RDX, RSI, RDI, RSP, TWO32 } from './machine.js'
import { add32, split } from './memory.js'
import type { CallResult } from './outcome.js'

// Local copies of imported constants (see cpu.ts).
const { big, umul32 } = alu
const { Op, Str, SEG_FS, SEG_GS } = dec
type Insn = dec.Insn

/** Instruction semantics beyond the hot few; Cpu (cpu.ts) adds the loop, calls and host functions. */
export abstract class Exec extends Machine {
  /** The less frequent instructions. Returns a result to stop; sets `jumped` when it moved rip. */
  protected slow(d: Insn): CallResult | undefined {
    const size = d.size
    const R = this.R
    const H = this.H
    // prettier-ignore
    switch (d.op) {
      case Op.XCHG: {
        const a = this.getE(d, size)
        const ah = this.vh
        const b = this.getR(d.reg, size)
        const bh = this.vh
        this.setE(d, size, b, bh)
        this.setR(d.reg, size, a, ah)
        return
      }
      case Op.PUSH_E: {
        const v = this.getE(d, size)
        this.push(v, this.vh, size)
        return
      }
      case Op.POP_E: {
        const v = this.pop(size)
        const vh = this.vh
        // The address is computed after %rsp is incremented, as the SDM says.
        if (d.mod !== 3) this.ea(d)
        this.setE(d, size, v, vh)
        return
      }
      case Op.INCDEC: {
        const a = this.getE(d, size)
        const r = this.incdec(d.sub === 1, size, a, this.vh)
        this.setE(d, size, r, this.rh)
        return
      }
      case Op.SHIFT: {
        const a = this.getE(d, size)
        const count = d.imm2 === 1 ? R[RCX]! & 0xff : d.imm
        const r = this.shift(d.sub, size, a, this.vh, count)
        this.setE(d, size, r, this.rh)
        return
      }
      case Op.SHLD: case Op.SHRD: {
        const a = this.getE(d, size)
        const ah = this.vh
        const b = this.getR(d.reg, size)
        const count = d.imm2 === 1 ? R[RCX]! & 0xff : d.imm
        const r = this.shiftDouble(d.op === Op.SHLD, size, a, ah, b, this.vh, count)
        this.setE(d, size, r, this.rh)
        return
      }
      case Op.IMUL2: case Op.IMUL3: {
        const a = this.getE(d, size)
        const ah = this.vh
        let b: number
        let bh: number
        if (d.op === Op.IMUL3) {
          b = size === 2 ? d.imm & 0xffff : d.imm
          bh = d.immHi
        } else {
          b = this.getR(d.reg, size)
          bh = this.vh
        }
        const r = this.imul(size, a, ah, b, bh)
        this.setR(d.reg, size, r, this.rh)
        return
      }
      case Op.GRP3:
        return this.grp3(d)
      case Op.BT: {
        let off: number
        let offHi = 0
        if (d.imm2 === 1) off = d.imm
        else {
          off = this.getR(d.reg, size)
          offHi = this.vh
        }
        const bits = size * 8
        let a: number
        let ah: number
        if (d.mod === 3 || d.imm2 === 1) {
          a = this.getE(d, size)
          ah = this.vh
          off &= bits - 1
        } else {
          // A register bit offset addresses memory beyond the operand (signed).
          this.ea(d)
          const sOff = size === 8 ? Number(BigInt.asIntN(64, big(off, offHi))) : size === 4 ? off | 0 : (off << 16) >> 16
          const unit = Math.floor(sOff / bits)
          const byteOff = unit * size
          let lo = this.eaLo + byteOff
          let hi = this.eaHi
          const c = Math.floor(lo / TWO32)
          lo -= c * TWO32
          hi = (hi + c) >>> 0
          this.eaLo = lo
          this.eaHi = hi
          a = this.load(size, lo, hi)
          ah = this.vh
          off = sOff - unit * bits
        }
        const isHi = off >= 32
        const word = isHi ? ah : a
        const mask = (1 << (off & 31)) >>> 0
        this.cf = (word & mask) !== 0 ? 1 : 0
        if (d.sub === 0) return
        let nw: number
        if (d.sub === 1) nw = (word | mask) >>> 0
        else if (d.sub === 2) nw = (word & ~mask) >>> 0
        else nw = (word ^ mask) >>> 0
        if (isHi) this.setE(d, size, a, nw)
        else this.setE(d, size, nw, ah)
        return
      }
      case Op.BSF: case Op.BSR: case Op.TZCNT: case Op.LZCNT: case Op.POPCNT: {
        const a = this.getE(d, size)
        const ah = size === 8 ? this.vh : 0
        const bits = size * 8
        const zero = a === 0 && ah === 0
        const v = size === 2 ? a & 0xffff : a
        if (d.op === Op.POPCNT) {
          const c = popcount(v) + popcount(ah)
          this.setR(d.reg, size, c, 0)
          this.cf = this.of = this.sf = this.af = this.pf = 0
          this.zf = zero ? 1 : 0
          return
        }
        const tz = v !== 0 ? ctz(v) : ah !== 0 ? 32 + ctz(ah) : bits
        const lz = size === 8 ? (ah !== 0 ? Math.clz32(ah) : 32 + Math.clz32(v)) : Math.clz32(v) - (32 - bits)
        if (d.op === Op.BSF || d.op === Op.BSR) {
          this.zf = zero ? 1 : 0
          // A zero source leaves the destination unchanged (what Linux's ffs/fls rely on).
          if (!zero) this.setR(d.reg, size, d.op === Op.BSF ? tz : bits - 1 - lz, 0)
          return
        }
        const c = d.op === Op.TZCNT ? tz : zero ? bits : lz
        this.cf = zero ? 1 : 0
        this.zf = c === 0 ? 1 : 0
        this.setR(d.reg, size, c, 0)
        return
      }
      case Op.BSWAP: {
        const lo = R[d.reg]!
        if (size === 8) {
          const hi = H[d.reg]!
          R[d.reg] = bswap32(hi)
          H[d.reg] = bswap32(lo)
        } else if (size === 4) {
          R[d.reg] = bswap32(lo)
          H[d.reg] = 0
        } else R[d.reg]! &= 0xffff0000 // bswap r16 is undefined; real CPUs zero the low word
        return
      }
      case Op.CBW:
        if (size === 8) H[RAX] = R[RAX]! & 0x80000000 ? 0xffffffff : 0
        else if (size === 4) {
          R[RAX] = ((R[RAX]! << 16) >> 16) >>> 0
          H[RAX] = 0
        } else this.setR(RAX, 2, ((R[RAX]! << 24) >> 24) & 0xffff, 0)
        return
      case Op.CWD:
        if (size === 8) R[RDX] = H[RDX] = H[RAX]! & 0x80000000 ? 0xffffffff : 0
        else if (size === 4) {
          R[RDX] = R[RAX]! & 0x80000000 ? 0xffffffff : 0
          H[RDX] = 0
        } else this.setR(RDX, 2, R[RAX]! & 0x8000 ? 0xffff : 0, 0)
        return
      case Op.LEAVE:
        R[RSP] = R[RBP]!
        H[RSP] = H[RBP]!
        R[RBP] = this.pop()
        H[RBP] = this.vh
        return
      case Op.ENTER: {
        if (d.imm2 !== 0) return this.trap('unsupported', 'enter with a nesting level')
        this.push(R[RBP]!, H[RBP]!)
        R[RBP] = R[RSP]!
        H[RBP] = H[RSP]!
        const [l, h] = split(BigInt.asUintN(64, this.regValue(RSP) - BigInt(d.imm)))
        R[RSP] = l
        H[RSP] = h
        return
      }
      case Op.STRING:
        return this.string(d)
      case Op.CLD: this.df = 0; return
      case Op.STD: this.df = 1; return
      case Op.CLC: this.cf = 0; return
      case Op.STC: this.cf = 1; return
      case Op.CMC: this.cf ^= 1; return
      case Op.CLI: this.iflag = 0; return
      case Op.STI: this.iflag = 1; return
      case Op.PUSHF: this.push(this.eflags, 0, size); return
      case Op.POPF: this.eflags = (this.eflags & ~0xed5) | (this.pop(size) & 0xed5); return
      case Op.SAHF: {
        const ah = (R[RAX]! >>> 8) & 0xff
        this.eflags = (this.eflags & ~0xd5) | (ah & 0xd5)
        return
      }
      case Op.LAHF:
        this.setR(16, 1, this.eflags & 0xff, 0)
        return
      case Op.CMPXCHG: {
        const dest = this.getE(d, size)
        const desth = this.vh
        const acc = this.getR(RAX, size)
        const acch = this.vh
        this.arith(7, size, acc, acch, dest, desth)
        if (this.zf) {
          const s = this.getR(d.reg, size)
          this.setE(d, size, s, this.vh)
        } else {
          if (d.mod !== 3) this.setE(d, size, dest, desth) // a locked cmpxchg always writes
          this.setR(RAX, size, dest, desth)
        }
        return
      }
      case Op.XADD: {
        const dest = this.getE(d, size)
        const desth = this.vh
        const src = this.getR(d.reg, size)
        const r = this.arith(0, size, dest, desth, src, this.vh)
        const rh = this.rh
        this.setR(d.reg, size, dest, desth)
        this.setE(d, size, r, rh)
        return
      }
      case Op.CMPXCHG16: {
        this.ea(d)
        const half = size / 2
        const mlo = this.load(half, this.eaLo, this.eaHi)
        const mloh = this.vh
        const [l2, h2] = add32(this.eaLo, this.eaHi, half)
        const mhi = this.load(half, l2, h2)
        const mhih = this.vh
        const eq = half === 8 ? mlo === R[RAX] && mloh === H[RAX] && mhi === R[RDX] && mhih === H[RDX] : mlo === R[RAX] && mhi === R[RDX]
        this.zf = eq ? 1 : 0
        if (eq) {
          this.store(half, this.eaLo, this.eaHi, R[RBX]!, H[RBX]!)
          this.store(half, l2, h2, R[RCX]!, H[RCX]!)
        } else {
          this.store(half, this.eaLo, this.eaHi, mlo, mloh)
          this.setR(RAX, half, mlo, mloh)
          this.setR(RDX, half, mhi, mhih)
        }
        return
      }
      case Op.MOVBE: {
        if (d.sub === 0) {
          const v = this.getE(d, size)
          const vh = this.vh
          if (size === 8) this.setR(d.reg, 8, bswap32(vh), bswap32(v))
          else if (size === 4) this.setR(d.reg, 4, bswap32(v), 0)
          else this.setR(d.reg, 2, ((v & 0xff) << 8) | (v >>> 8), 0)
        } else {
          const v = this.getR(d.reg, size)
          const vh = this.vh
          this.ea(d)
          if (size === 8) this.setE(d, 8, bswap32(vh), bswap32(v))
          else if (size === 4) this.setE(d, 4, bswap32(v), 0)
          else this.setE(d, 2, ((v & 0xff) << 8) | (v >>> 8), 0)
        }
        return
      }
      case Op.MOV_MOFFS: {
        let [lo, hi] = [d.tLo, d.tHi]
        if (d.seg === SEG_GS) [lo, hi] = add64(lo, hi, this.gsLo, this.gsHi)
        else if (d.seg === SEG_FS) [lo, hi] = add64(lo, hi, this.fsLo, this.fsHi)
        if (d.sub === 1) this.store(size, lo, hi, this.getR(RAX, size), this.vh)
        else this.setR(RAX, size, this.load(size, lo, hi), this.vh)
        return
      }
      case Op.XLAT: {
        const [l, h] = add32(R[RBX]!, H[RBX]!, R[RAX]! & 0xff)
        this.setR(RAX, 1, this.memory.read8(l, h), 0)
        return
      }
      case Op.JRCXZ: case Op.LOOP: {
        let take: boolean
        if (d.op === Op.JRCXZ) take = d.addr32 ? R[RCX] === 0 : (R[RCX]! | H[RCX]!) === 0
        else {
          const [l, h] = split(BigInt.asUintN(64, this.regValue(RCX) - 1n))
          R[RCX] = l
          H[RCX] = h
          const nz = (l | h) !== 0
          take = d.sub === 2 ? nz : d.sub === 1 ? nz && this.zf === 1 : nz && this.zf === 0
        }
        if (take) return this.jumpTo(d.tLo, d.tHi)
        return
      }
      case Op.RDTSC: case Op.RDTSCP: {
        const t = this.tscBase + BigInt(this.icount) * 3n
        const [l, h] = split(t)
        R[RAX] = l
        H[RAX] = 0
        R[RDX] = h
        H[RDX] = 0
        if (d.op === Op.RDTSCP) {
          R[RCX] = 0
          H[RCX] = 0
        }
        return
      }
      case Op.RDRAND:
        // Deterministic: "no entropy available" (CF=0), as a caller must handle anyway.
        this.setR(d.rm, size, 0, 0)
        this.cf = this.of = this.sf = this.zf = this.af = this.pf = 0
        return
      case Op.CPUID:
        this.cpuid()
        return
      case Op.IO: {
        const port = d.imm2 === 1 ? R[RDX]! & 0xffff : d.imm
        const io = this.io
        if (!io) return this.trap('unsupported', `port I/O (${d.sub ? 'out' : 'in'} port 0x${port.toString(16)}) at 0x${this.rip.toString(16)}: no I/O handler`)
        if (d.sub === 1) io.out(port, size as 1 | 2 | 4, this.getR(RAX, size))
        else this.setR(RAX, size, io.in(port, size as 1 | 2 | 4) >>> 0, 0)
        return
      }
      case Op.UD: return this.trap(d.opcode === 0x0f0b ? 'ud2' : 'invalid-opcode', d.opcode === 0x0f0b ? undefined : `opcode 0x${d.opcode.toString(16)}`)
      case Op.INT3: return this.trap('int3')
      case Op.HLT: return this.trap('hlt')
      case Op.INT: return this.trap('int', `int 0x${d.imm.toString(16)}`)
      case Op.VECTOR: return this.trap('unsupported', `vector/FPU instruction (opcode 0x${d.opcode.toString(16)}) at 0x${this.rip.toString(16)}: SSE/AVX/x87 are not modelled`)
      case Op.SYSTEM: return this.trap('unsupported', `privileged instruction (opcode 0x${d.opcode.toString(16)}) at 0x${this.rip.toString(16)}: not modelled`)
      case Op.UNKNOWN: return this.trap('invalid-opcode', `undecodable bytes at 0x${this.rip.toString(16)}`)
      default:
        return this.trap('unsupported', `internal op ${d.op}`)
    }
  }

  protected grp3(d: Insn): CallResult | undefined {
    const size = d.size
    const R = this.R
    const H = this.H
    const a = this.getE(d, size)
    const ah = this.vh
    // prettier-ignore
    switch (d.sub) {
      case 0: case 1:
        this.arith(4, size, a, ah, size >= 4 ? d.imm : d.imm & (size === 2 ? 0xffff : 0xff), d.immHi)
        return
      case 2: {
        const m = size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff
        this.setE(d, size, (~a & m) >>> 0, size === 8 ? ~ah >>> 0 : 0)
        return
      }
      case 3: {
        const r = this.arith(5, size, 0, 0, a, ah)
        this.setE(d, size, r, this.rh)
        this.cf = a !== 0 || ah !== 0 ? 1 : 0
        return
      }
      case 4: case 5: {
        // mul / imul: rdx:rax = rax * src
        const acc = this.getR(RAX, size)
        const acch = this.vh
        if (size === 8) {
          const x = big(acc, acch)
          const y = big(a, ah)
          const p = d.sub === 4 ? x * y : BigInt.asIntN(64, x) * BigInt.asIntN(64, y)
          const u = BigInt.asUintN(128, p)
          this.setReg(RAX, BigInt.asUintN(64, u))
          this.setReg(RDX, u >> 64n)
          const over = d.sub === 4 ? u >> 64n !== 0n : BigInt.asIntN(64, p) !== p
          this.cf = this.of = over ? 1 : 0
          return
        }
        const bits = size * 8
        let lo: number
        let hi: number
        if (d.sub === 4) {
          lo = umul32(acc, a)
          hi = alu.mulHi
        } else {
          const sx = signExt(acc, size)
          const sy = signExt(a, size)
          const p = BigInt(sx) * BigInt(sy)
          const u = BigInt.asUintN(64, p)
          lo = Number(u & 0xffffffffn)
          hi = Number(u >> 32n)
        }
        let over: boolean
        if (size === 4) {
          R[RAX] = lo
          H[RAX] = 0
          R[RDX] = hi
          H[RDX] = 0
          over = d.sub === 4 ? hi !== 0 : hi !== (lo & 0x80000000 ? 0xffffffff : 0)
        } else {
          const full = lo // < 2^32 for 8/16-bit
          const low = full & (size === 2 ? 0xffff : 0xff)
          const high = (full >>> bits) & (size === 2 ? 0xffff : 0xff)
          if (size === 2) {
            this.setR(RAX, 2, low, 0)
            this.setR(RDX, 2, high, 0)
          } else this.setR(RAX, 2, full & 0xffff, 0)
          over = d.sub === 4 ? high !== 0 : signExt(full & (size === 2 ? 0xffffffff : 0xffff), size * 2) !== signExt(low, size)
        }
        this.cf = this.of = over ? 1 : 0
        return
      }
      default: {
        // div / idiv
        if (a === 0 && ah === 0) return this.trap('divide-error')
        const signed = d.sub === 7
        // Fast path (do_div, u32 math): unsigned, no high half, operands below 2^52 so that q*v stays
        // exact in a double; the rounded quotient is corrected by at most one.
        if (!signed && (size === 4 || size === 8) && (R[RDX]! | (size === 8 ? H[RDX]! : 0)) === 0 && (size === 4 || (H[RAX]! < 0x100000 && ah < 0x100000))) {
          const n = size === 8 ? H[RAX]! * TWO32 + R[RAX]! : R[RAX]!
          const v = size === 8 ? ah * TWO32 + a : a
          let q = Math.floor(n / v)
          let rem = n - q * v
          if (rem < 0) {
            q--
            rem += v
          } else if (rem >= v) {
            q++
            rem -= v
          }
          this.setR(RAX, size, q >>> 0, size === 8 ? Math.floor(q / TWO32) : 0)
          this.setR(RDX, size, rem >>> 0, size === 8 ? Math.floor(rem / TWO32) : 0)
          return
        }
        let dividend: bigint
        if (size === 8) dividend = (this.regValue(RDX) << 64n) | this.regValue(RAX)
        else if (size === 4) dividend = (BigInt(R[RDX]!) << 32n) | BigInt(R[RAX]!)
        else if (size === 2) dividend = (BigInt(R[RDX]! & 0xffff) << 16n) | BigInt(R[RAX]! & 0xffff)
        else dividend = BigInt(R[RAX]! & 0xffff)
        const bits = BigInt(size * 8)
        let divisor = size === 8 ? big(a, ah) : BigInt(a)
        if (signed) {
          dividend = BigInt.asIntN(Number(bits) * 2, dividend)
          divisor = BigInt.asIntN(Number(bits), divisor)
        }
        const q = dividend / divisor
        const r = dividend % divisor
        const fits = signed ? q >= -(1n << (bits - 1n)) && q < 1n << (bits - 1n) : q < 1n << bits
        if (!fits) return this.trap('divide-error')
        const uq = BigInt.asUintN(Number(bits), q)
        const ur = BigInt.asUintN(Number(bits), r)
        if (size === 8) {
          this.setReg(RAX, uq)
          this.setReg(RDX, ur)
        } else if (size === 4) {
          R[RAX] = Number(uq)
          H[RAX] = 0
          R[RDX] = Number(ur)
          H[RDX] = 0
        } else if (size === 2) {
          this.setR(RAX, 2, Number(uq), 0)
          this.setR(RDX, 2, Number(ur), 0)
        } else {
          this.setR(RAX, 1, Number(uq), 0)
          this.setR(16, 1, Number(ur), 0)
        }
        return
      }
    }
  }

  /** Two/three-operand imul: the truncated product; CF=OF when it does not fit. */
  protected imul(size: number, a: number, ah: number, b: number, bh: number): number {
    if (size === 8) {
      const sa = (ah | 0) * TWO32 + a
      const sb = (bh | 0) * TWO32 + b
      const p = sa * sb
      if (Number.isSafeInteger(sa) && Number.isSafeInteger(sb) && Number.isSafeInteger(p)) {
        const c = Math.floor(p / TWO32)
        this.rh = c >>> 0
        this.cf = this.of = 0
        return p - c * TWO32
      }
      const full = BigInt.asIntN(64, big(a, ah)) * BigInt.asIntN(64, big(b, bh))
      const t = BigInt.asUintN(64, full)
      this.cf = this.of = BigInt.asIntN(64, t) !== full ? 1 : 0
      this.rh = Number(t >> 32n)
      return Number(t & 0xffffffffn)
    }
    const sa = signExt(a, size)
    const sb = signExt(b, size)
    this.rh = 0
    if (size === 4) {
      const lo = Math.imul(a, b) >>> 0
      const exact = sa * sb
      this.cf = this.of = Number.isSafeInteger(exact) ? (exact !== (lo | 0) ? 1 : 0) : 1
      this.sf = lo >>> 31
      return lo
    }
    const p = sa * sb
    const m = size === 2 ? 0xffff : 0xff
    const r = p & m
    this.cf = this.of = signExt(r, size) !== p ? 1 : 0
    return r
  }

  protected string(d: Insn): CallResult | undefined {
    const size = d.size
    const R = this.R
    const H = this.H
    const kind = d.sub
    const rep = d.rep !== 0
    const step = this.df ? -size : size
    const srcGs = d.seg === SEG_GS
    // The instruction's own count pays for the first iteration; each further one costs one more.
    for (let first = true; ; first = false) {
      if (rep) {
        if ((R[RCX]! | H[RCX]!) === 0) return
        if (!first) {
          if (this.icount >= this.limit) {
            // Budget gone mid-rep: stop before this iteration, rip still at the instruction.
            this.jumped = true
            return
          }
          this.icount++
        }
      }
      // prettier-ignore
      switch (kind) {
        case Str.MOVS: {
          const [l, h] = this.srcAddr(srcGs)
          const v = this.load(size, l, h)
          this.store(size, R[RDI]!, H[RDI]!, v, this.vh)
          this.advance(RSI, step)
          this.advance(RDI, step)
          break
        }
        case Str.STOS:
          this.store(size, R[RDI]!, H[RDI]!, this.getR(RAX, size), this.vh)
          this.advance(RDI, step)
          break
        case Str.LODS: {
          const [l, h] = this.srcAddr(srcGs)
          const v = this.load(size, l, h)
          this.setR(RAX, size, v, this.vh)
          this.advance(RSI, step)
          break
        }
        case Str.CMPS: {
          const [l, h] = this.srcAddr(srcGs)
          const a = this.load(size, l, h)
          const ah = this.vh
          const b = this.load(size, R[RDI]!, H[RDI]!)
          this.arith(7, size, a, ah, b, this.vh)
          this.advance(RSI, step)
          this.advance(RDI, step)
          break
        }
        case Str.SCAS: {
          const a = this.getR(RAX, size)
          const ah = this.vh
          const b = this.load(size, R[RDI]!, H[RDI]!)
          this.arith(7, size, a, ah, b, this.vh)
          this.advance(RDI, step)
          break
        }
        default:
          return this.trap('unsupported', 'ins/outs (port I/O) is not modelled')
      }
      if (!rep) return
      // rcx -= 1
      if (R[RCX] === 0) {
        R[RCX] = 0xffffffff
        H[RCX] = (H[RCX]! - 1) >>> 0
      } else R[RCX] = R[RCX]! - 1
      if (kind === Str.CMPS || kind === Str.SCAS) {
        if (d.rep === 0xf3 && this.zf === 0) return
        if (d.rep === 0xf2 && this.zf === 1) return
      }
    }
  }

  protected srcAddr(gs: boolean): [number, number] {
    if (!gs) return [this.R[RSI]!, this.H[RSI]!]
    return add64(this.R[RSI]!, this.H[RSI]!, this.gsLo, this.gsHi)
  }

  protected advance(reg: number, step: number): void {
    let s = this.R[reg]! + step
    if (s >= TWO32) {
      s -= TWO32
      this.H[reg] = this.H[reg]! + 1
    } else if (s < 0) {
      s += TWO32
      this.H[reg] = this.H[reg]! - 1
    }
    this.R[reg] = s
  }

  /** Fixed CPUID answers: a GenuineIntel family-6 CPU without vector extensions. */
  protected cpuid(): void {
    const R = this.R
    const leaf = R[RAX]
    let a = 0
    let b = 0
    let c = 0
    let dd = 0
    if (leaf === 0) {
      a = 0xd
      b = 0x756e6547 // "Genu"
      dd = 0x49656e69 // "ineI"
      c = 0x6c65746e // "ntel"
    } else if (leaf === 1) {
      a = 0x000906ea
      b = 0x00000800
      c = 0x00800000 // popcnt
      dd = 0x0000a131 // fpu, tsc, cx8, cmov, (no sse)
    } else if (leaf === 0x80000000) {
      a = 0x80000008
    }
    const out = [a, c, dd, b]
    for (const [i, r] of [RAX, RCX, RDX, RBX].entries()) {
      R[r] = out[i]!
      this.H[r] = 0
    }
  }
}

function add64(alo: number, ahi: number, blo: number, bhi: number): [number, number] {
  const s = alo + blo
  return s >= TWO32 ? [s - TWO32, (ahi + bhi + 1) >>> 0] : [s, (ahi + bhi) >>> 0]
}
function signExt(v: number, size: number): number {
  if (size === 1) return (v << 24) >> 24
  if (size === 2) return (v << 16) >> 16
  if (size === 4) return v | 0
  return v
}
function popcount(v: number): number {
  v = v - ((v >>> 1) & 0x55555555)
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24
}
function ctz(v: number): number {
  return 31 - Math.clz32(v & -v)
}
function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0
}
