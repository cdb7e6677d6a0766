import * as alu from './alu.js'
import * as dec from './decode.js'
import { HostStop, REG_NAMES, kernelThunk, sysvArgs, type HostEntry } from './host.js'
import { PAGE_SIZE, SparseMemory, add32, split, toBig, type Page } from './memory.js'
import { GuestFault, type CallArgs, type GuestFaultInfo, type KernelFunction } from './types.js'

// Local copies of imported constants: a test runner's module loader may turn every use of an
// imported binding into an accessor call, which costs 5x in the interpreter loop.
const { Alu, big, umul32 } = alu
const { Insn, Kind, Op, Str, decode } = dec
const { BASE_RIP, SEG_FS, SEG_GS } = dec
const TWO32 = 0x100000000
const PROT_X = 4
const { MOV_EG, MOV_GE, MOV_EI, MOV_RI, LEA, ALU_EG, ALU_GE, ALU_EI, TEST_EG, TEST_EI, JCC, JMP, CALL, CALL_E, JMP_E, RET, PUSH_R, POP_R, PUSH_I, MOVZX, MOVSX, CMOVCC, SETCC, NOP, PAUSE, HOST } = Op
type Insn = dec.Insn

const RAX = 0
const RCX = 1
const RDX = 2
const RSP = 4
const RBP = 5
const RSI = 6
const RDI = 7
const SHADOW_CAP = 1024
const FETCH = new Uint8Array(32)

/** General registers, rip and rflags at the moment a call stopped. */
export type Registers = Record<(typeof REG_NAMES)[number] | 'rip' | 'eflags', bigint>

/** Where the CPU stood when a call did not return normally. */
export interface StopState {
  /** Address of the instruction that stopped the run (for a host function: its address). */
  rip: bigint
  regs: Registers
  /** Return addresses of the active calls of this `call`, innermost first (from a shadow call stack). */
  backtrace: bigint[]
  /**
   * Entry addresses of the active functions, innermost first, ending with the function `call` was
   * given: backtrace[i] is where callees[i] returns to (so there is one more callee than return address).
   */
  callees: bigint[]
  /** Instructions this call executed (rep iterations count one each). */
  instructions: number
}

/** How a call ended. */
export type CallResult =
  | { kind: 'returned'; value: bigint; instructions: number }
  | ({ kind: 'fault'; fault: GuestFaultInfo } & StopState)
  | ({ kind: 'stack-overflow'; fault: GuestFaultInfo } & StopState)
  | ({ kind: 'budget' } & StopState)
  | ({ kind: 'trap'; trap: TrapKind; detail?: string } & StopState)
  | ({ kind: 'stopped'; reason: string; detail?: unknown } & StopState)
  | ({ kind: 'host-error'; error: unknown } & StopState)
  /** A bug in the simulated CPU itself (an exception inside the interpreter): never thrown through. */
  | ({ kind: 'cpu-error'; error: unknown } & StopState)

/**
 * ud2 (BUG/WARN: the kernel's __bug_table decides), int3, divide error (#DE), hlt, int n,
 * an unknown opcode (#UD), or a known instruction the simulator does not execute
 * ('unsupported': vector/FPU or privileged; `detail` names it).
 */
export type TrapKind = 'ud2' | 'int3' | 'divide-error' | 'hlt' | 'int' | 'invalid-opcode' | 'unsupported'

export interface CpuOptions {
  memory?: SparseMemory
  /** Lowest address of the kernel stack region; a guard page lies below it. */
  stackBase?: bigint
  /** Stack size in bytes (THREAD_SIZE: 16 KiB on x86-64). */
  stackSize?: number
  /** %gs base: the per-CPU area (`current_task`, the stack canary at %gs:0x28). */
  gsBase?: bigint
  /** Where an outermost call returns to (a host address the run stops at). */
  exitAddress?: bigint
  /** Answers in/out; without it they stop the call as 'unsupported'. */
  io?: PortIo
}

/** Port I/O as the simulated machine answers it (in/out are privileged; without a handler they trap). */
export interface PortIo {
  in(port: number, size: 1 | 2 | 4): number
  out(port: number, size: 1 | 2 | 4, value: number): void
}

export interface CallOptions {
  /** Instruction budget; exhausted means a hang. */
  budget?: number
  /** Called at ud2/int3: return true to continue after the instruction (a WARN), false to stop (a BUG). */
  onTrap?: (trap: TrapKind, rip: bigint) => boolean
}

const DEFAULT_STACK = 0xffffc90000004000n
const DEFAULT_EXIT = 0xffffffff80001000n

/**
 * A deterministic x86-64 interpreter for kernel-mode integer code: module functions run on
 * `memory`, kernel functions are host functions bound to addresses.
 *
 * @example
 * const cpu = new Cpu()
 * cpu.memory.map(0xffffffffc0000000n, 4096, 'rx')
 * cpu.memory.write(0xffffffffc0000000n, new Uint8Array([0x48, 0x8d, 0x04, 0x37, 0xc3])) // lea (%rdi,%rsi),%rax; ret
 * cpu.call(0xffffffffc0000000n, [2n, 3n]) // { kind: 'returned', value: 5n, ... }
 */
export class Cpu extends Alu {
  readonly memory: SparseMemory
  /** Low and high halves of the 16 general registers. */
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
  readonly stackBase: bigint
  readonly stackSize: number
  readonly exitAddress: bigint
  /** Port I/O handler (see CpuOptions.io). */
  io: PortIo | undefined
  private limit = 0
  private callStart = 0
  private depth = 0
  private eaLo = 0
  private eaHi = 0
  /** High half of the last operand read. */
  private vh = 0
  private readonly shLo = new Uint32Array(SHADOW_CAP)
  private readonly shHi = new Uint32Array(SHADOW_CAP)
  private readonly shFn = new Float64Array(SHADOW_CAP * 2)
  private sdepth = 0
  private onTrap: CallOptions['onTrap'] = undefined
  private hostFault: GuestFaultInfo | undefined

  constructor(opts: CpuOptions = {}) {
    super()
    this.memory = opts.memory ?? new SparseMemory()
    this.stackBase = opts.stackBase ?? DEFAULT_STACK
    this.stackSize = opts.stackSize ?? 16384
    this.exitAddress = opts.exitAddress ?? DEFAULT_EXIT
    this.io = opts.io
    if (this.stackSize % PAGE_SIZE !== 0 || this.stackSize <= 0) throw new Error(`stackSize ${this.stackSize} is not a positive multiple of ${PAGE_SIZE}`)
    // The stack, with an unmapped guard page below it (as with CONFIG_VMAP_STACK).
    this.memory.map(this.stackBase, this.stackSize, 'rw')
    this.memory.unmap(this.stackBase - BigInt(PAGE_SIZE), PAGE_SIZE)
    this.bindEntry(this.exitAddress, { kind: 'exit', name: '<exit>' })
    if (opts.gsBase !== undefined) this.gsBase = opts.gsBase
  }

  get gsBase(): bigint {
    return toBig(this.gsLo, this.gsHi)
  }
  set gsBase(v: bigint) {
    ;[this.gsLo, this.gsHi] = split(v)
  }

  /** Unsigned 64-bit value of register n. */
  regValue(n: number): bigint {
    return toBig(this.R[n], this.H[n])
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

  /**
   * Binds a kernel function implemented in TypeScript to a guest address: a call or jump there
   * runs `fn` with the SysV arguments and returns to the caller with %rax set.
   *
   * @example cpu.defineHost(0xffffffff81000000n, '_printk', (c) => { log(c.memory.readCString(c.arg(0))); return 0 })
   */
  defineHost(addr: bigint, name: string, fn: KernelFunction): void {
    this.bindEntry(addr, { kind: 'fn', name, fn })
  }

  /**
   * Binds a kernel thunk by name (`__x86_return_thunk`, `__fentry__`, `__x86_indirect_thunk_<reg>`).
   * @returns false when `name` is not a known thunk.
   * @example cpu.defineThunk(0xffffffff81e00000n, '__x86_return_thunk')
   */
  defineThunk(addr: bigint, name: string): boolean {
    const e = kernelThunk(name)
    if (!e) return false
    this.bindEntry(addr, e)
    return true
  }

  /** Maps the page holding `addr` executable if needed (filled with int3) and binds the entry. */
  private bindEntry(addr: bigint, e: HostEntry): void {
    const page = BigInt.asUintN(64, addr) & ~0xfffn
    if (!this.memory.isMapped(page)) {
      this.memory.map(page, PAGE_SIZE, 'rw')
      this.memory.write(page, new Uint8Array(PAGE_SIZE).fill(0xcc))
      this.memory.protect(page, PAGE_SIZE, 'rx')
    }
    const [lo, hi] = split(addr)
    const p = this.memory.page(lo, hi)!
    p.host ??= new Map()
    p.host.set(lo & 0xfff, e)
    p.code = undefined
  }

  /** The SysV arguments as a host function sees them right now (rsp at the return address). */
  args(): CallArgs {
    return sysvArgs(this, this.regValue(RSP))
  }

  /**
   * Calls the guest function at `address` with integer arguments (SysV) and runs it until it
   * returns, faults, traps or uses up its budget. Re-entrant: a host function may call back into
   * the guest; the registers are restored afterwards.
   *
   * @example const r = cpu.call(initAddr, [], { budget: 1_000_000 }); if (r.kind === 'returned') r.value
   */
  call(address: bigint, args: bigint[] = [], opts: CallOptions = {}): CallResult {
    const budget = opts.budget ?? 10_000_000
    const saved = this.depth > 0 ? this.save() : undefined
    const outerLimit = this.limit
    const outerTrap = this.onTrap
    const outerShadow = this.sdepth
    try {
      this.depth++
      this.onTrap = opts.onTrap
      let top = saved ? BigInt.asUintN(64, this.regValue(RSP) - 256n) & ~15n : this.stackBase + BigInt(this.stackSize) - 64n
      const stackArgs = args.slice(6)
      if (stackArgs.length % 2 === 1) top -= 8n
      top -= BigInt(stackArgs.length * 8)
      stackArgs.forEach((a, i) => this.memory.writeU64(top + BigInt(i * 8), BigInt.asUintN(64, a)))
      top -= 8n
      this.memory.writeU64(top, this.exitAddress)
      this.setReg(RSP, top)
      const regs = [RDI, RSI, RDX, RCX, 8, 9]
      args.slice(0, 6).forEach((a, i) => this.setReg(regs[i], BigInt.asUintN(64, a)))
      this.rip = address
      this.df = 0
      if (!saved) this.sdepth = 0
      this.pushShadow(...split(this.exitAddress), address)
      this.limit = saved ? Math.min(outerLimit, this.icount + budget) : this.icount + budget
      const start = this.icount
      const outerStart = this.callStart
      this.callStart = start
      const r = this.run()
      this.callStart = outerStart
      if (r === undefined) return { kind: 'returned', value: this.regValue(RAX), instructions: this.icount - start }
      return r
    } catch (e) {
      if (e instanceof GuestFault) return this.faultResult(e.info)
      throw e
    } finally {
      this.depth--
      this.limit = outerLimit
      this.onTrap = outerTrap
      if (saved) {
        this.restore(saved)
        this.sdepth = outerShadow
      }
    }
  }

  private save(): { R: Uint32Array; H: Uint32Array; lo: number; hi: number; fl: number; sd: number; sh: [Uint32Array, Uint32Array, Float64Array] } {
    const n = Math.min(this.sdepth, SHADOW_CAP)
    return {
      R: this.R.slice(),
      H: this.H.slice(),
      lo: this.ripLo,
      hi: this.ripHi,
      fl: this.eflags,
      sd: this.sdepth,
      sh: [this.shLo.slice(0, n), this.shHi.slice(0, n), this.shFn.slice(0, 2 * n)],
    }
  }
  private restore(s: ReturnType<Cpu['save']>): void {
    this.R.set(s.R)
    this.H.set(s.H)
    this.ripLo = s.lo
    this.ripHi = s.hi
    this.eflags = s.fl
    this.shLo.set(s.sh[0])
    this.shHi.set(s.sh[1])
    this.shFn.set(s.sh[2])
    this.sdepth = s.sd
  }

  /** The state report of a stopped run. */
  state(): StopState {
    const regs = {} as Registers
    REG_NAMES.forEach((n, i) => (regs[n] = this.regValue(i)))
    regs.rip = this.rip
    regs.eflags = BigInt(this.eflags)
    const backtrace: bigint[] = []
    const callees: bigint[] = []
    for (let i = Math.min(this.sdepth, SHADOW_CAP) - 1; i >= 0 && backtrace.length < 32; i--) {
      const ret = toBig(this.shLo[i], this.shHi[i])
      callees.push(toBig(this.shFn[2 * i], this.shFn[2 * i + 1]))
      if (ret === this.exitAddress) break
      backtrace.push(ret)
    }
    return { rip: this.rip, regs, backtrace, callees, instructions: this.icount - this.callStart }
  }

  private faultResult(info: GuestFaultInfo): CallResult {
    const guardEnd = this.stackBase
    const guardStart = this.stackBase - BigInt(PAGE_SIZE)
    const kind = info.address >= guardStart && info.address < guardEnd ? 'stack-overflow' : 'fault'
    return { kind, fault: info, ...this.state() }
  }

  private pushShadow(lo: number, hi: number, callee: bigint): void {
    const d = this.sdepth++
    if (d >= SHADOW_CAP) return
    this.shLo[d] = lo
    this.shHi[d] = hi
    const [cl, ch] = split(callee)
    this.shFn[2 * d] = cl
    this.shFn[2 * d + 1] = ch
  }
  private pushShadowN(lo: number, hi: number, cl: number, ch: number): void {
    const d = this.sdepth++
    if (d >= SHADOW_CAP) return
    this.shLo[d] = lo
    this.shHi[d] = hi
    this.shFn[2 * d] = cl
    this.shFn[2 * d + 1] = ch
  }
  /** A return to (lo, hi): pop the shadow entry it matches (tolerating a few skipped frames). */
  private popShadow(lo: number, hi: number): void {
    const d = this.sdepth
    if (d > SHADOW_CAP) {
      this.sdepth--
      return
    }
    for (let i = d - 1; i >= 0 && i >= d - 8; i--) {
      if (this.shLo[i] === lo && this.shHi[i] === hi) {
        this.sdepth = i
        return
      }
    }
  }

  /** Fetch (through the page's decoded-instruction cache) the instruction at rip. */
  private fetch(): Insn {
    const lo = this.ripLo
    const hi = this.ripHi
    // Fast path: same code page as the last fetch and its decoded cache still valid.
    const fc = this.fetchCode
    if (fc !== undefined && (lo >>> 12) === this.fetchLo && hi === this.fetchHi && this.fetchPage!.code === fc && this.fetchEpoch === this.memory.epoch) {
      const c = fc[lo & 0xfff]
      if (c !== undefined) return c
    }
    const page = this.memory.pageFor(lo, hi, PROT_X)
    this.fetchPage = page
    this.fetchEpoch = this.memory.epoch
    this.fetchLo = lo >>> 12
    this.fetchHi = hi
    this.fetchCode = undefined
    const off = lo & 0xfff
    let code = page.code as Insn[] | undefined
    if (code !== undefined) {
      this.fetchCode = code
      const c = code[off]
      if (c !== undefined) return c
    } else {
      code = page.code = new Array(PAGE_SIZE)
    }
    let insn: Insn
    const host = page.host?.get(off) as HostEntry | undefined
    if (host) {
      insn = new Insn()
      insn.op = Op.HOST
      insn.kind = Kind.OK
      insn.len = 1
      insn.host = host
    } else {
      const avail = PAGE_SIZE - off
      if (avail >= 15) {
        insn = decode(page.data, off, off + 15, lo, hi)
      } else {
        FETCH.set(page.data.subarray(off), 0)
        const [nl, nh] = add32(lo, hi, avail)
        const next = this.memory.page(nl, nh)
        const more = next && next.prot & PROT_X ? next.data.subarray(0, 15 - avail) : new Uint8Array(0)
        FETCH.set(more, avail)
        insn = decode(FETCH, 0, avail + more.length, lo, hi)
        if (insn.kind === Kind.UNKNOWN && more.length === 0) this.memory.pageFor(nl, nh, PROT_X) // the fetch faults there
        if (insn.len > avail) {
          // Spans two pages: do not cache (a write to the second page would not invalidate it).
          return insn
        }
      }
    }
    code[off] = insn
    this.fetchCode = code
    return insn
  }
  private fetchPage: Page | undefined = undefined
  private fetchCode: Insn[] | undefined = undefined
  private fetchEpoch = -1
  private fetchLo = -1
  private fetchHi = -1

  // --- operand access -------------------------------------------------------------------

  private ea(d: Insn): void {
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
        lo += this.R[d.base]
        hi += this.H[d.base]
      }
      if (d.index >= 0) {
        lo += this.R[d.index] * d.scale
        hi += this.H[d.index] * d.scale
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
  private getR(n: number, size: number): number {
    switch (size) {
      case 8: this.vh = this.H[n]; return this.R[n]
      case 4: this.vh = 0; return this.R[n]
      case 2: this.vh = 0; return this.R[n] & 0xffff
      default: this.vh = 0; return n < 16 ? this.R[n] & 0xff : (this.R[n - 16] >>> 8) & 0xff
    }
  }
  private setR(n: number, size: number, lo: number, hi: number): void {
    switch (size) {
      case 8: this.R[n] = lo; this.H[n] = hi; return
      case 4: this.R[n] = lo; this.H[n] = 0; return
      case 2: this.R[n] = (this.R[n] & 0xffff0000) | (lo & 0xffff); return
      default:
        if (n < 16) this.R[n] = (this.R[n] & 0xffffff00) | (lo & 0xff)
        else this.R[n - 16] = (this.R[n - 16] & 0xffff00ff) | ((lo & 0xff) << 8)
    }
  }
  private load(size: number, lo: number, hi: number): number {
    const m = this.memory
    switch (size) {
      case 8: { const v = m.read64(lo, hi); this.vh = m.hi; return v }
      case 4: this.vh = 0; return m.read32(lo, hi)
      case 2: this.vh = 0; return m.read16(lo, hi)
      default: this.vh = 0; return m.read8(lo, hi)
    }
  }
  private store(size: number, lo: number, hi: number, v: number, vh: number): void {
    const m = this.memory
    switch (size) {
      case 8: m.write64(lo, hi, v, vh); return
      case 4: m.write32(lo, hi, v); return
      case 2: m.write16(lo, hi, v & 0xffff); return
      default: m.write8(lo, hi, v & 0xff)
    }
  }
  /** The r/m operand (size bytes); for memory the address is left in ea. */
  private getE(d: Insn, size: number): number {
    if (d.mod === 3) return this.getR(d.rm, size)
    this.ea(d)
    return this.load(size, this.eaLo, this.eaHi)
  }
  /** Writes the r/m operand; for memory, to the address computed by the last getE/ea. */
  private setE(d: Insn, size: number, lo: number, hi: number): void {
    if (d.mod === 3) this.setR(d.rm, size, lo, hi)
    else this.store(size, this.eaLo, this.eaHi, lo, hi)
  }

  private push(lo: number, hi: number, size = 8): void {
    let sl = this.R[RSP] - size
    let sh = this.H[RSP]
    if (sl < 0) {
      sl += TWO32
      sh = (sh - 1) >>> 0
    }
    this.store(size, sl, sh, lo, hi)
    this.R[RSP] = sl
    this.H[RSP] = sh
  }
  private pop(size = 8): number {
    const lo = this.R[RSP]
    const hi = this.H[RSP]
    const v = this.load(size, lo, hi)
    const s = lo + size
    if (s >= TWO32) {
      this.R[RSP] = s - TWO32
      this.H[RSP] = hi + 1
    } else this.R[RSP] = s
    return v
  }

  // --- the interpreter loop -------------------------------------------------------------

  /** Runs until the exit address is reached (undefined) or the run stops (a CallResult). */
  private run(): CallResult | undefined {
    for (;;) {
      if (this.icount >= this.limit) return { kind: 'budget', ...this.state() }
      try {
        const r = this.step(this.fetch())
        if (r !== undefined) return r === null ? undefined : r
      } catch (e) {
        if (e instanceof GuestFault) return this.faultResult(e.info)
        return { kind: 'cpu-error', error: e, ...this.state() }
      }
    }
  }

  /** Executes a batch of instructions starting with `d`; null: exit reached; a result: stop. */
  private step(first: Insn): CallResult | null | undefined {
    let d = first
    const H = this.H
    for (let n = 0; n < 4096; n++) {
      if (n > 0) {
        if (this.icount >= this.limit) return undefined
        // Inline form of fetch()'s fast path: same page, cache valid, instruction decoded.
        const fc = this.fetchCode
        const lo = this.ripLo
        const c = fc !== undefined && (lo >>> 12) === this.fetchLo && this.ripHi === this.fetchHi && this.fetchPage!.code === fc && this.fetchEpoch === this.memory.epoch ? fc[lo & 0xfff] : undefined
        d = c !== undefined ? c : this.fetch()
      }
      this.icount++
      let nl = this.ripLo + d.len
      let nh = this.ripHi
      if (nl >= TWO32) {
        nl -= TWO32
        nh = (nh + 1) >>> 0
      }
      const size = d.size
      switch (d.op) {
        case MOV_EG: {
          const v = this.getR(d.reg, size)
          const vh = this.vh
          if (d.mod !== 3) this.ea(d)
          this.setE(d, size, v, vh)
          break
        }
        case MOV_GE: {
          const v = this.getE(d, size)
          this.setR(d.reg, size, v, this.vh)
          break
        }
        case MOV_EI:
          if (d.mod !== 3) this.ea(d)
          this.setE(d, size, d.imm, d.immHi)
          break
        case MOV_RI:
          this.setR(d.reg, size, d.imm, d.immHi)
          break
        case LEA: {
          this.ea(d)
          this.setR(d.reg, size, this.eaLo, this.eaHi)
          break
        }
        case ALU_EG: case ALU_GE: case ALU_EI: {
          const a = d.op === ALU_GE ? this.getR(d.reg, size) : this.getE(d, size)
          const ah = this.vh
          let b: number
          let bh: number
          if (d.op === ALU_EI) {
            b = size === 8 ? d.imm : size === 4 ? d.imm : d.imm & (size === 2 ? 0xffff : 0xff)
            bh = d.immHi
          } else if (d.op === ALU_EG) {
            b = this.getR(d.reg, size)
            bh = this.vh
          } else {
            b = this.getE(d, size)
            bh = this.vh
          }
          // xor r,r and sub r,r: the zeroing idioms (same result, no operand reads needed).
          const r = this.arith(d.sub, size, a, ah, b, bh)
          if (d.sub !== 7) {
            if (d.op === ALU_GE) this.setR(d.reg, size, r, this.rh)
            else this.setE(d, size, r, this.rh)
          }
          break
        }
        case TEST_EG: case TEST_EI: {
          const a = this.getE(d, size)
          const ah = this.vh
          if (d.op === TEST_EG) {
            const b = this.getR(d.reg, size)
            this.arith(4, size, a, ah, b, this.vh)
          } else this.arith(4, size, a, ah, size >= 4 ? d.imm : d.imm & (size === 2 ? 0xffff : 0xff), d.immHi)
          break
        }
        case JCC:
          if (this.cond(d.sub)) {
            nl = d.tLo
            nh = d.tHi
          }
          break
        case JMP:
          nl = d.tLo
          nh = d.tHi
          break
        case CALL:
          this.push(nl, nh)
          this.pushShadowN(nl, nh, d.tLo, d.tHi)
          nl = d.tLo
          nh = d.tHi
          break
        case CALL_E: {
          const t = this.getE(d, 8)
          const th = this.vh
          this.push(nl, nh)
          this.pushShadowN(nl, nh, t, th)
          nl = t
          nh = th
          break
        }
        case JMP_E: {
          nl = this.getE(d, 8)
          nh = this.vh
          break
        }
        case RET: {
          nl = this.pop()
          nh = this.vh
          if (d.imm) this.addRsp(d.imm)
          this.popShadow(nl, nh)
          break
        }
        case PUSH_R: {
          const v = this.getR(d.reg, size)
          this.push(v, this.vh, size)
          break
        }
        case POP_R: {
          const v = this.pop(size)
          this.setR(d.reg, size, v, this.vh)
          break
        }
        case PUSH_I:
          this.push(d.imm, d.immHi, size)
          break
        case MOVZX: {
          const v = this.getE(d, d.imm2)
          this.setR(d.reg, size, v, 0)
          break
        }
        case MOVSX: {
          const src = d.imm2
          const v = this.getE(d, src)
          const s = src === 1 ? (v << 24) >> 24 : src === 2 ? (v << 16) >> 16 : v | 0
          this.setR(d.reg, size, s >>> 0, s < 0 ? 0xffffffff : 0)
          break
        }
        case CMOVCC: {
          const v = this.getE(d, size)
          if (this.cond(d.sub)) this.setR(d.reg, size, v, this.vh)
          else if (size === 4) H[d.reg] = 0
          break
        }
        case SETCC:
          if (d.mod !== 3) this.ea(d)
          this.setE(d, 1, this.cond(d.sub) ? 1 : 0, 0)
          break
        case NOP: case PAUSE:
          break
        case HOST: {
          const r = this.host(d.host as HostEntry)
          if (r !== undefined) return r
          continue
        }
        default: {
          const r = this.slow(d)
          if (r !== undefined) return r
          if (this.jumped) {
            this.jumped = false
            continue
          }
        }
      }
      this.ripLo = nl
      this.ripHi = nh
    }
    return undefined
  }

  /** Set by slow() when it has set rip itself. */
  private jumped = false

  private addRsp(n: number): void {
    const s = this.R[RSP] + n
    if (s >= TWO32) {
      this.R[RSP] = s - TWO32
      this.H[RSP] = this.H[RSP] + 1
    } else this.R[RSP] = s
  }

  private trap(kind: TrapKind, detail?: string): CallResult | undefined {
    if ((kind === 'ud2' || kind === 'int3') && this.onTrap?.(kind, this.rip)) return undefined
    return { kind: 'trap', trap: kind, ...(detail ? { detail } : {}), ...this.state() }
  }

  /** A host entry reached by call/jmp: run it and return to the caller. */
  private host(e: HostEntry): CallResult | null | undefined {
    switch (e.kind) {
      case 'exit':
        this.popShadow(...split(this.exitAddress))
        return null
      case 'stop': {
        const caller = this.memory.readU64(this.regValue(RSP))
        return { kind: 'stopped', reason: e.reason, detail: { caller }, ...this.state() }
      }
      case 'jmp':
        this.ripLo = this.R[e.reg]
        this.ripHi = this.H[e.reg]
        return undefined
      case 'ret':
        break
      case 'fn': {
        let v: bigint | number | void
        try {
          v = e.fn(this.args())
        } catch (err) {
          if (err instanceof GuestFault) return this.faultResult(err.info)
          if (err instanceof HostStop) return { kind: 'stopped', reason: err.reason, detail: err.detail, ...this.state() }
          return { kind: 'host-error', error: err, ...this.state() }
        }
        if (v !== undefined) this.setReg(RAX, BigInt.asUintN(64, BigInt(v)))
        else this.setReg(RAX, 0n)
        break
      }
    }
    const lo = this.pop()
    const hi = this.vh
    this.popShadow(lo, hi)
    this.ripLo = lo
    this.ripHi = hi
    return undefined
  }

  /** The less frequent instructions. Returns a result to stop; sets `jumped` when it moved rip. */
  private slow(d: Insn): CallResult | undefined {
    const size = d.size
    const R = this.R
    const H = this.H
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
        const count = d.imm2 === 1 ? R[RCX] & 0xff : d.imm
        const r = this.shift(d.sub, size, a, this.vh, count)
        this.setE(d, size, r, this.rh)
        return
      }
      case Op.SHLD: case Op.SHRD: {
        const a = this.getE(d, size)
        const ah = this.vh
        const b = this.getR(d.reg, size)
        const count = d.imm2 === 1 ? R[RCX] & 0xff : d.imm
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
        const lo = R[d.reg]
        if (size === 8) {
          const hi = H[d.reg]
          R[d.reg] = bswap32(hi)
          H[d.reg] = bswap32(lo)
        } else if (size === 4) {
          R[d.reg] = bswap32(lo)
          H[d.reg] = 0
        } else R[d.reg] &= 0xffff0000 // bswap r16 is undefined; real CPUs zero the low word
        return
      }
      case Op.CBW:
        if (size === 8) H[RAX] = R[RAX] & 0x80000000 ? 0xffffffff : 0
        else if (size === 4) {
          R[RAX] = ((R[RAX] << 16) >> 16) >>> 0
          H[RAX] = 0
        } else this.setR(RAX, 2, ((R[RAX] << 24) >> 24) & 0xffff, 0)
        return
      case Op.CWD:
        if (size === 8) R[RDX] = H[RDX] = H[RAX] & 0x80000000 ? 0xffffffff : 0
        else if (size === 4) {
          R[RDX] = R[RAX] & 0x80000000 ? 0xffffffff : 0
          H[RDX] = 0
        } else this.setR(RDX, 2, R[RAX] & 0x8000 ? 0xffff : 0, 0)
        return
      case Op.LEAVE:
        R[RSP] = R[RBP]
        H[RSP] = H[RBP]
        R[RBP] = this.pop()
        H[RBP] = this.vh
        return
      case Op.ENTER: {
        if (d.imm2 !== 0) return this.trap('unsupported', 'enter with a nesting level')
        this.push(R[RBP], H[RBP])
        R[RBP] = R[RSP]
        H[RBP] = H[RSP]
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
        const ah = (R[RAX] >>> 8) & 0xff
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
          this.store(half, this.eaLo, this.eaHi, R[3], H[3])
          this.store(half, l2, h2, R[RCX], H[RCX])
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
        const [l, h] = add32(R[3], H[3], R[RAX] & 0xff)
        this.setR(RAX, 1, this.memory.read8(l, h), 0)
        return
      }
      case Op.JRCXZ: case Op.LOOP: {
        let take: boolean
        if (d.op === Op.JRCXZ) take = d.addr32 ? R[RCX] === 0 : (R[RCX] | H[RCX]) === 0
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
        const port = d.imm2 === 1 ? R[RDX] & 0xffff : d.imm
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

  private jumpTo(lo: number, hi: number): undefined {
    this.ripLo = lo
    this.ripHi = hi
    this.jumped = true
    return undefined
  }

  private grp3(d: Insn): CallResult | undefined {
    const size = d.size
    const R = this.R
    const H = this.H
    const a = this.getE(d, size)
    const ah = this.vh
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
        if (!signed && (size === 4 || size === 8) && (R[RDX] | (size === 8 ? H[RDX] : 0)) === 0 && (size === 4 || (H[RAX] < 0x100000 && ah < 0x100000))) {
          const n = size === 8 ? H[RAX] * TWO32 + R[RAX] : R[RAX]
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
        else if (size === 4) dividend = (BigInt(R[RDX]) << 32n) | BigInt(R[RAX])
        else if (size === 2) dividend = (BigInt(R[RDX] & 0xffff) << 16n) | BigInt(R[RAX] & 0xffff)
        else dividend = BigInt(R[RAX] & 0xffff)
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
  private imul(size: number, a: number, ah: number, b: number, bh: number): number {
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

  private string(d: Insn): CallResult | undefined {
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
        if ((R[RCX] | H[RCX]) === 0) return
        if (!first) {
          if (this.icount >= this.limit) {
            // Budget gone mid-rep: stop before this iteration, rip still at the instruction.
            this.jumped = true
            return
          }
          this.icount++
        }
      }
      switch (kind) {
        case Str.MOVS: {
          const [l, h] = this.srcAddr(srcGs)
          const v = this.load(size, l, h)
          this.store(size, R[RDI], H[RDI], v, this.vh)
          this.advance(RSI, step)
          this.advance(RDI, step)
          break
        }
        case Str.STOS:
          this.store(size, R[RDI], H[RDI], this.getR(RAX, size), this.vh)
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
          const b = this.load(size, R[RDI], H[RDI])
          this.arith(7, size, a, ah, b, this.vh)
          this.advance(RSI, step)
          this.advance(RDI, step)
          break
        }
        case Str.SCAS: {
          const a = this.getR(RAX, size)
          const ah = this.vh
          const b = this.load(size, R[RDI], H[RDI])
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
        H[RCX] = (H[RCX] - 1) >>> 0
      } else R[RCX] = R[RCX] - 1
      if (kind === Str.CMPS || kind === Str.SCAS) {
        if (d.rep === 0xf3 && this.zf === 0) return
        if (d.rep === 0xf2 && this.zf === 1) return
      }
    }
  }

  private srcAddr(gs: boolean): [number, number] {
    if (!gs) return [this.R[RSI], this.H[RSI]]
    return add64(this.R[RSI], this.H[RSI], this.gsLo, this.gsHi)
  }

  private advance(reg: number, step: number): void {
    let s = this.R[reg] + step
    if (s >= TWO32) {
      s -= TWO32
      this.H[reg] = this.H[reg] + 1
    } else if (s < 0) {
      s += TWO32
      this.H[reg] = this.H[reg] - 1
    }
    this.R[reg] = s
  }

  /** Fixed CPUID answers: a GenuineIntel family-6 CPU without vector extensions. */
  private cpuid(): void {
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
    for (const [i, r] of [RAX, RCX, RDX, 3].entries()) {
      R[r] = out[i]
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
