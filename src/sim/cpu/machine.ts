// The architectural state of the CPU (registers, rip, segment bases, the instruction count) and
// operand access: effective addresses, register and memory reads/writes of 1/2/4/8 bytes, push/pop.
import * as alu from './alu.js'
import * as dec from './decode.js'
import type { CallResult, TrapKind } from './outcome.js'
import { SparseMemory, split, toBig } from './memory.js'

// Local copies of imported constants (see cpu.ts: imported bindings can be accessors under test loaders).
const { Alu } = alu
const { BASE_RIP, SEG_FS, SEG_GS } = dec
type Insn = dec.Insn

export const TWO32 = 0x100000000
export const RAX = 0
export const RCX = 1
export const RDX = 2
export const RBX = 3
export const RSP = 4
export const RBP = 5
export const RSI = 6
export const RDI = 7

/** Port I/O as the simulated machine answers it (in/out are privileged; without a handler they trap). */
export interface PortIo {
  in(port: number, size: 1 | 2 | 4): number
  out(port: number, size: 1 | 2 | 4, value: number): void
}

/** Registers and operand access; the instructions are in Exec (exec.ts) and the loop in Cpu (cpu.ts). */
export abstract class Machine extends Alu {
  readonly memory: SparseMemory
  /** Low and high halves of the 16 general registers (indexed by decoded register numbers 0-15, so reads carry `!`). */
  readonly R = new Uint32Array(16)
  readonly H = new Uint32Array(16)
  ripLo = 0
  ripHi = 0
  gsLo = 0
  gsHi = 0
  fsLo = 0
  fsHi = 0
  /** Instructions executed since construction (rep iterations count one each). */
  icount = 0
  /** Base of the deterministic time-stamp counter. */
  tscBase = 0x10000000n
  /** Port I/O handler (see CpuOptions.io). */
  io: PortIo | undefined = undefined
  /** The instruction count at which the current call runs out of budget. */
  protected limit = 0
  protected eaLo = 0
  protected eaHi = 0
  /** High half of the last operand read. */
  protected vh = 0
  /** Set by an instruction that has set rip itself. */
  protected jumped = false

  constructor(memory: SparseMemory) {
    super()
    this.memory = memory
  }

  /** Stops the run (a CallResult) or, for a trap the caller continues past, undefined. */
  protected abstract trap(kind: TrapKind, detail?: string): CallResult | undefined

  get gsBase(): bigint {
    return toBig(this.gsLo, this.gsHi)
  }

  set gsBase(v: bigint) {
    ;[this.gsLo, this.gsHi] = split(v)
  }

  /** Unsigned 64-bit value of register n. */
  regValue(n: number): bigint {
    return toBig(this.R[n]!, this.H[n]!)
  }

  /** Sets register n (64-bit). */
  setReg(n: number, v: bigint): void {
    ;[this.R[n], this.H[n]] = split(v)
  }

  get rip(): bigint {
    return toBig(this.ripLo, this.ripHi)
  }

  set rip(v: bigint) {
    ;[this.ripLo, this.ripHi] = split(v)
  }

  /** The memory operand's address (base + index*scale + disp, or RIP-relative, plus %fs/%gs) into eaLo/eaHi. */
  protected ea(d: Insn): void {
    let lo: number
    let hi: number
    if (d.base === BASE_RIP) {
      lo = d.tLo
      hi = d.tHi
    } else {
      // A negative disp makes lo negative; the carry below then borrows from hi.
      lo = d.disp
      hi = 0
      if (d.base >= 0) {
        lo += this.R[d.base]!
        hi += this.H[d.base]!
      }
      if (d.index >= 0) {
        lo += this.R[d.index]! * d.scale
        hi += this.H[d.index]! * d.scale
      }
      if (lo >= TWO32 || lo < 0) {
        const c = Math.floor(lo / TWO32)
        lo -= c * TWO32
        hi += c
      }
      hi >>>= 0
      if (d.addr32) hi = 0
    }
    if (d.seg !== 0) {
      if (d.seg === SEG_GS) {
        lo += this.gsLo
        hi += this.gsHi
      } else if (d.seg === SEG_FS) {
        lo += this.fsLo
        hi += this.fsHi
      }
      if (lo >= TWO32) {
        lo -= TWO32
        hi++
      }
      hi >>>= 0
    }
    this.eaLo = lo
    this.eaHi = hi
  }

  /** Register n of `size` bytes (byte registers 16..19: AH..BH); high half in vh. */
  protected getR(n: number, size: number): number {
    switch (size) {
      case 8:
        this.vh = this.H[n]!
        return this.R[n]!
      case 4:
        this.vh = 0
        return this.R[n]!
      case 2:
        this.vh = 0
        return this.R[n]! & 0xffff
      default:
        this.vh = 0
        return n < 16 ? this.R[n]! & 0xff : (this.R[n - 16]! >>> 8) & 0xff
    }
  }

  protected setR(n: number, size: number, lo: number, hi: number): void {
    switch (size) {
      case 8:
        this.R[n] = lo
        this.H[n] = hi
        return
      case 4:
        this.R[n] = lo
        this.H[n] = 0
        return
      case 2:
        this.R[n] = (this.R[n]! & 0xffff0000) | (lo & 0xffff)
        return
      default:
        if (n < 16) this.R[n] = (this.R[n]! & 0xffffff00) | (lo & 0xff)
        else this.R[n - 16] = (this.R[n - 16]! & 0xffff00ff) | ((lo & 0xff) << 8)
    }
  }

  protected load(size: number, lo: number, hi: number): number {
    const m = this.memory
    switch (size) {
      case 8: {
        const v = m.read64(lo, hi)
        this.vh = m.hi
        return v
      }
      case 4:
        this.vh = 0
        return m.read32(lo, hi)
      case 2:
        this.vh = 0
        return m.read16(lo, hi)
      default:
        this.vh = 0
        return m.read8(lo, hi)
    }
  }

  protected store(size: number, lo: number, hi: number, v: number, vh: number): void {
    const m = this.memory
    switch (size) {
      case 8:
        m.write64(lo, hi, v, vh)
        return
      case 4:
        m.write32(lo, hi, v)
        return
      case 2:
        m.write16(lo, hi, v & 0xffff)
        return
      default:
        m.write8(lo, hi, v & 0xff)
    }
  }

  /** The r/m operand (size bytes); for memory the address is left in ea. */
  protected getE(d: Insn, size: number): number {
    if (d.mod === 3) return this.getR(d.rm, size)
    this.ea(d)
    return this.load(size, this.eaLo, this.eaHi)
  }

  /** Writes the r/m operand; for memory, to the address computed by the last getE/ea. */
  protected setE(d: Insn, size: number, lo: number, hi: number): void {
    if (d.mod === 3) this.setR(d.rm, size, lo, hi)
    else this.store(size, this.eaLo, this.eaHi, lo, hi)
  }

  protected push(lo: number, hi: number, size = 8): void {
    let sl = this.R[RSP]! - size
    let sh = this.H[RSP]!
    if (sl < 0) {
      sl += TWO32
      sh = (sh - 1) >>> 0
    }
    this.store(size, sl, sh, lo, hi)
    this.R[RSP] = sl
    this.H[RSP] = sh
  }

  protected pop(size = 8): number {
    const lo = this.R[RSP]!
    const hi = this.H[RSP]!
    const v = this.load(size, lo, hi)
    const s = lo + size
    if (s >= TWO32) {
      this.R[RSP] = s - TWO32
      this.H[RSP] = hi + 1
    } else this.R[RSP] = s
    return v
  }

  protected addRsp(n: number): void {
    const s = this.R[RSP]! + n
    if (s >= TWO32) {
      this.R[RSP] = s - TWO32
      this.H[RSP] = this.H[RSP]! + 1
    } else this.R[RSP] = s
  }

  protected jumpTo(lo: number, hi: number): undefined {
    this.ripLo = lo
    this.ripHi = hi
    this.jumped = true
    return undefined
  }
}
