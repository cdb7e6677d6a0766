// The CPU: the interpreter loop (the hottest instructions inline, the rest in exec.ts), host
// functions, and the call API with its outcomes.
import * as dec from './decode.js'
import { Exec } from './exec.js'
import { HostStop, REG_NAMES, kernelThunk, sysvArgs, type HostEntry } from './host.js'
import { codeTable } from './code-cache.js'
import { PAGE_SIZE, SparseMemory, add32, pageKey, split, toBig, type Page } from './memory.js'
import { RAX, RCX, RDI, RDX, RSI, RSP, TWO32, type PortIo } from './machine.js'
import type { CallResult, Registers, StopState, TrapKind } from './outcome.js'
import { GuestFault, type CallArgs, type GuestFaultInfo, type KernelFunction } from './types.js'

export type { CallResult, Registers, StopState, TrapKind } from './outcome.js'
export type { PortIo } from './machine.js'

// Local copies of imported constants: a test runner's module loader may turn every use of an
// imported binding into an accessor call, which costs 5x in the interpreter loop.
const { Insn, Kind, Op, decode } = dec
const PROT_X = 4
const {
  MOV_EG,
  MOV_GE,
  MOV_EI,
  MOV_RI,
  LEA,
  ALU_EG,
  ALU_GE,
  ALU_EI,
  TEST_EG,
  TEST_EI,
  JCC,
  JMP,
  CALL,
  CALL_E,
  JMP_E,
  RET,
  PUSH_R,
  POP_R,
  PUSH_I,
  MOVZX,
  MOVSX,
  CMOVCC,
  SETCC,
  NOP,
  PAUSE,
  HOST,
} = Op
type Insn = dec.Insn

const SHADOW_CAP = 1024
const SHADOW_START = 64
const FETCH = new Uint8Array(32)
/** What a page of bound kernel functions holds around them: int3 (never written: the page is read-only, mapBytes shares it). */
const INT3_PAGE = new Uint8Array(PAGE_SIZE).fill(0xcc)

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
export class Cpu extends Exec {
  readonly stackBase: bigint
  readonly stackSize: number
  readonly exitAddress: bigint
  private callStart = 0
  private depth = 0
  // The shadow stack of calls (return address, callee), grown as calls nest up to SHADOW_CAP: most runs stay shallow.
  private shLo = new Uint32Array(SHADOW_START)
  private shHi = new Uint32Array(SHADOW_START)
  private shFn = new Float64Array(SHADOW_START * 2)
  private sdepth = 0
  private onTrap: CallOptions['onTrap'] = undefined

  constructor(opts: CpuOptions = {}) {
    super(opts.memory ?? new SparseMemory())
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
    if (!this.memory.isMapped(page)) this.memory.mapBytes(page, INT3_PAGE, 'rx')
    const [lo, hi] = split(addr)
    const p = this.memory.page(lo, hi)!
    const insn = new Insn()
    insn.op = Op.HOST
    insn.kind = Kind.OK
    insn.len = 1
    insn.host = e
    p.host ??= new Map()
    p.host.set(lo & 0xfff, insn)
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
      args.slice(0, 6).forEach((a, i) => this.setReg(regs[i]!, BigInt.asUintN(64, a)))
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
      // i is below the shadow stack's depth and capacity.
      const ret = toBig(this.shLo[i]!, this.shHi[i]!)
      callees.push(toBig(this.shFn[2 * i]!, this.shFn[2 * i + 1]!))
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
    if (d >= this.shLo.length) this.growShadow()
    this.shLo[d] = lo
    this.shHi[d] = hi
    const [cl, ch] = split(callee)
    this.shFn[2 * d] = cl
    this.shFn[2 * d + 1] = ch
  }
  private pushShadowN(lo: number, hi: number, cl: number, ch: number): void {
    const d = this.sdepth++
    if (d >= SHADOW_CAP) return
    if (d >= this.shLo.length) this.growShadow()
    this.shLo[d] = lo
    this.shHi[d] = hi
    this.shFn[2 * d] = cl
    this.shFn[2 * d + 1] = ch
  }
  private growShadow(): void {
    const n = Math.min(this.shLo.length * 2, SHADOW_CAP)
    const lo = new Uint32Array(n)
    const hi = new Uint32Array(n)
    const fn = new Float64Array(n * 2)
    lo.set(this.shLo)
    hi.set(this.shHi)
    fn.set(this.shFn)
    this.shLo = lo
    this.shHi = hi
    this.shFn = fn
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
    if (fc !== undefined && lo >>> 12 === this.fetchLo && hi === this.fetchHi && this.fetchPage!.code === fc && this.fetchEpoch === this.memory.epoch) {
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
    // A kernel function bound here (bindEntry made its instruction): host pages keep no decoded table.
    const bound = page.host?.get(off) as Insn | undefined
    if (bound !== undefined) return bound
    let code = page.code as Insn[] | undefined
    if (code !== undefined) {
      this.fetchCode = code
      const c = code[off]
      if (c !== undefined) return c
    } else {
      // a host page's table is its own (the int3 filler around bound functions); a module's is shared
      code = page.code = (page.host ? new Array(PAGE_SIZE) : codeTable(page, pageKey(lo, hi))) as Insn[]
    }
    let insn: Insn
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
    code[off] = insn
    this.fetchCode = code
    return insn
  }
  private fetchPage: Page | undefined = undefined
  private fetchCode: Insn[] | undefined = undefined
  private fetchEpoch = -1
  private fetchLo = -1
  private fetchHi = -1

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
        const c =
          fc !== undefined && lo >>> 12 === this.fetchLo && this.ripHi === this.fetchHi && this.fetchPage!.code === fc && this.fetchEpoch === this.memory.epoch
            ? fc[lo & 0xfff]
            : undefined
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
        case ALU_EG:
        case ALU_GE:
        case ALU_EI: {
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
          const r = this.arith(d.sub, size, a, ah, b, bh)
          if (d.sub !== 7) {
            if (d.op === ALU_GE) this.setR(d.reg, size, r, this.rh)
            else this.setE(d, size, r, this.rh)
          }
          break
        }
        case TEST_EG:
        case TEST_EI: {
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
        case NOP:
        case PAUSE:
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

  protected trap(kind: TrapKind, detail?: string): CallResult | undefined {
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
        this.ripLo = this.R[e.reg]!
        this.ripHi = this.H[e.reg]!
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
}
