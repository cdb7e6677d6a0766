// x86-64 instruction decoder: bytes -> Insn (operands resolved, branch targets absolute).
// Opcode facts from the Intel SDM vol. 2 opcode maps (appendix A); the code is our own.

/** What the executor does with an instruction. */
// prettier-ignore
export const Op = {
  UNKNOWN: 0, VECTOR: 1, SYSTEM: 2, HOST: 3,
  ALU_EG: 4, ALU_GE: 5, ALU_EI: 6, TEST_EG: 7, TEST_EI: 8,
  MOV_EG: 9, MOV_GE: 10, MOV_EI: 11, MOV_RI: 12, LEA: 13, MOVZX: 14, MOVSX: 15, XCHG: 16,
  PUSH_R: 17, POP_R: 18, PUSH_I: 19, PUSH_E: 20, POP_E: 21,
  JCC: 22, JMP: 23, CALL: 24, JMP_E: 25, CALL_E: 26, RET: 27,
  SETCC: 28, CMOVCC: 29, SHIFT: 30, IMUL3: 31, IMUL2: 32, GRP3: 33, INCDEC: 34,
  SHLD: 35, SHRD: 36, BT: 37, BSF: 38, BSR: 39, TZCNT: 40, LZCNT: 41, POPCNT: 42, BSWAP: 43,
  CBW: 44, CWD: 45, LEAVE: 46, NOP: 47, PAUSE: 48, UD: 49, INT3: 50, HLT: 51, RDTSC: 52, CPUID: 53,
  STRING: 54, CLD: 55, STD: 56, CLC: 57, STC: 58, CMC: 59, CMPXCHG: 60, XADD: 61,
  PUSHF: 62, POPF: 63, SAHF: 64, LAHF: 65, CLI: 66, STI: 67, CMPXCHG16: 68, JRCXZ: 69, LOOP: 70,
  MOVBE: 71, RDTSCP: 72, INT: 73, ENTER: 74, MOV_MOFFS: 75, RDRAND: 76, XLAT: 77, IO: 78,
} as const

/** Decoder's verdict on an opcode: executable, known but vector/FPU, known but privileged/system, unknown. */
export const Kind = { OK: 0, VECTOR: 1, SYSTEM: 2, UNKNOWN: 3 } as const

/** Pseudo base register meaning "RIP-relative": the absolute address is in tLo/tHi. */
export const BASE_RIP = 16
/** Segment override: none, %fs, %gs. */
export const SEG_NONE = 0
export const SEG_FS = 4
export const SEG_GS = 5

/** String instruction kinds (Insn.sub for Op.STRING). */
export const Str = { MOVS: 0, CMPS: 1, STOS: 2, LODS: 3, SCAS: 4, INS: 5, OUTS: 6 } as const

/** One decoded instruction. Byte registers 16..19 are AH, CH, DH, BH. */
export class Insn {
  op: number = Op.UNKNOWN
  kind: number = Kind.UNKNOWN
  len = 0
  /** Operand size in bytes (1, 2, 4, 8). */
  size = 4
  /** Opcode for messages: one byte, 0x0fXX, 0x0f38XX, 0x0f3aXX, or 0xc4/0xc5/0x62 for VEX/EVEX. */
  opcode = 0
  /** ModRM mod (3 = register operand), -1 without ModRM. */
  mod = -1
  reg = 0
  rm = 0
  /** Memory operand: base register (-1 none, BASE_RIP), index (-1 none), scale, signed disp32. */
  base = -1
  index = -1
  scale = 1
  disp = 0
  seg = SEG_NONE
  /** 32-bit address size (0x67 prefix). */
  addr32 = false
  /** Immediate (unsigned low 32 bits) and its high half (sign extension, or movabs). */
  imm = 0
  immHi = 0
  /** Second immediate (enter's nesting level) or a source size (movzx/movsx). */
  imm2 = 0
  /** Sub-operation: ALU op, /digit, condition code, string kind, shift count source. */
  sub = 0
  /** 0, 0xf3 (rep/repe) or 0xf2 (repne). */
  rep = 0
  /** Absolute branch target / RIP-relative address (low, high). */
  tLo = 0
  tHi = 0
  /** Host function bound to this address (set by the CPU, not the decoder). */
  host: unknown = undefined
}

const PREFIX = new Uint8Array(256)
for (const b of [0xf0, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65, 0x66, 0x67]) PREFIX[b] = 1

/** Two-byte opcodes (0f xx) that are SSE/MMX (decoded for length only). */
const VEC2 = new Uint8Array(256)
for (let b = 0x10; b <= 0x17; b++) VEC2[b] = 1
for (let b = 0x28; b <= 0x2f; b++) VEC2[b] = 1
for (let b = 0x50; b <= 0x7f; b++) VEC2[b] = 1
for (let b = 0xd0; b <= 0xfe; b++) VEC2[b] = 1
for (const b of [0xc2, 0xc4, 0xc5, 0xc6]) VEC2[b] = 1
VEC2[0x78] = 0 // vmread
VEC2[0x79] = 0 // vmwrite
/** Of those, the ones with an imm8 after ModRM. */
const VEC2_IMM = new Set([0x70, 0x71, 0x72, 0x73, 0xc2, 0xc4, 0xc5, 0xc6])

const TWO32 = 0x100000000

// Decoder state of the instruction being decoded (module-level: no closures per call).
let d: Insn = new Insn()
let code: Uint8Array = new Uint8Array(0)
let p = 0
let pos = 0
let limit = 0
let ok = true
let rex = 0
let rexR = 0
let rexX = 0
let rexB = 0
let vsize = 4
let size64 = 8
let opsize16 = false
let rep = 0
let addr32 = false
let ripLo = 0
let ripHi = 0

/**
 * Decode one instruction at `pos` of `code` (bytes up to `end`), located at guest address
 * (ripLo, ripHi). Never throws: an unknown or truncated instruction has kind UNKNOWN and len 0.
 *
 * @example
 * const i = decode(new Uint8Array([0x48, 0x01, 0xd8]), 0, 3, 0, 0) // add %rbx,%rax
 * i.op === Op.ALU_EG && i.size === 8 && i.len === 3
 */
export function decode(bytes: Uint8Array, at: number, end: number, lo: number, hi: number): Insn {
  d = new Insn()
  code = bytes
  pos = at
  ripLo = lo
  ripHi = hi
  limit = Math.min(end, at + 15)
  p = at
  ok = true
  opsize16 = false
  let seg = SEG_NONE
  rep = 0
  addr32 = false
  while (p < limit && PREFIX[code[p]!] === 1) {
    const b = code[p++]
    if (b === 0x66) opsize16 = true
    else if (b === 0x67) addr32 = true
    else if (b === 0xf2 || b === 0xf3) rep = b
    else if (b === 0x64) seg = SEG_FS
    else if (b === 0x65) seg = SEG_GS
  }
  rex = 0
  if (p < limit && (code[p]! & 0xf0) === 0x40) rex = code[p++]!
  if (p >= limit) return d
  const rexW = (rex & 8) !== 0
  rexR = (rex & 4) << 1
  rexX = (rex & 2) << 2
  rexB = (rex & 1) << 3
  d.seg = seg
  d.rep = rep
  d.addr32 = addr32
  vsize = rexW ? 8 : opsize16 ? 2 : 4
  size64 = opsize16 ? 2 : 8 // default-64 operand size (push/pop/call/jmp)
  let op = code[p++]!
  d.opcode = op
  d.kind = Kind.OK
  d.size = vsize

  if (op === 0x0f) {
    if (!need(1)) return fail(d)
    op = code[p++]!
    d.opcode = 0x0f00 | op
    twoByte(op)
  } else if (op === 0xc4 || op === 0xc5 || op === 0x62) {
    vex(op)
  } else {
    oneByte(op)
  }
  if (!ok) return fail(d)
  d.len = p - pos
  if (d.base === BASE_RIP) setTarget(d, ripLo, ripHi, d.len + d.disp)
  return d
}

function need(n: number): boolean {
  if (p + n > limit) ok = false
  return ok
}
function modrm(): void {
  if (!need(1)) return
  const b = code[p++]!
  const mod = b >> 6
  d.mod = mod
  d.reg = ((b >> 3) & 7) | rexR
  const rm = b & 7
  if (mod === 3) {
    d.rm = rm | rexB
    return
  }
  if (rm === 4) {
    if (!need(1)) return
    const sib = code[p++]!
    d.scale = 1 << (sib >> 6)
    const idx = ((sib >> 3) & 7) | rexX
    d.index = idx === 4 ? -1 : idx
    const base = sib & 7
    if (base === 5 && mod === 0) {
      d.base = -1
      if (!need(4)) return
      d.disp = s32(code, p)
      p += 4
      return
    }
    d.base = base | rexB
  } else if (rm === 5 && mod === 0) {
    d.base = BASE_RIP
    if (!need(4)) return
    d.disp = s32(code, p)
    p += 4
    return
  } else {
    d.base = rm | rexB
  }
  if (mod === 1) {
    if (!need(1)) return
    d.disp = (code[p++]! << 24) >> 24
  } else if (mod === 2) {
    if (!need(4)) return
    d.disp = s32(code, p)
    p += 4
  }
}
/** Immediate of n bytes, sign-extended to 64 bits. */
function imm(n: number): void {
  if (!need(n)) return
  let v: number
  if (n === 1) v = (code[p]! << 24) >> 24
  else if (n === 2) v = ((code[p]! | (code[p + 1]! << 8)) << 16) >> 16
  else v = s32(code, p)
  p += n
  d.imm = v >>> 0
  d.immHi = v < 0 ? 0xffffffff : 0
}
/** Unsigned immediate of n bytes (no sign extension). */
function uimm(n: number): void {
  if (!need(n)) return
  let v = 0
  for (let i = 0; i < n; i++) v += code[p + i]! * 2 ** (8 * i)
  p += n
  d.imm = v
  d.immHi = 0
}
function immz(): void {
  imm(vsize === 2 ? 2 : 4)
}
/** Byte register number: without REX, 4..7 are AH..BH. */
function r8(n: number): number {
  return rex === 0 && n >= 4 && n < 8 ? n + 12 : n
}
function rel(n: number): void {
  imm(n)
  if (!ok) return
  const v = d.imm + (d.immHi ? -TWO32 : 0)
  const lenNow = p - pos
  setTarget(d, ripLo, ripHi, lenNow + v)
}

function oneByte(b: number): void {
  if (b < 0x40 && (b & 7) < 6) {
    d.sub = b >> 3
    const form = b & 7
    if (form === 0 || form === 1) {
      d.op = Op.ALU_EG
      d.size = form === 0 ? 1 : vsize
      modrm()
      if (form === 0) byteOperands()
    } else if (form === 2 || form === 3) {
      d.op = Op.ALU_GE
      d.size = form === 2 ? 1 : vsize
      modrm()
      if (form === 2) byteOperands()
    } else {
      d.op = Op.ALU_EI
      d.mod = 3
      d.rm = 0
      d.size = form === 4 ? 1 : vsize
      if (form === 4) imm(1)
      else immz()
    }
    return
  }
  if (b >= 0x50 && b <= 0x5f) {
    d.reg = (b & 7) | rexB
    return set(b < 0x58 ? Op.PUSH_R : Op.POP_R, size64)
  }
  if (b >= 0x70 && b <= 0x7f) {
    d.op = Op.JCC
    d.sub = b & 15
    return rel(1)
  }
  if (b >= 0x91 && b <= 0x97) {
    d.op = Op.XCHG
    d.mod = 3
    d.rm = (b & 7) | rexB
    d.reg = 0
    return
  }
  if (b >= 0xb0 && b <= 0xb7) {
    d.op = Op.MOV_RI
    d.size = 1
    d.reg = r8((b & 7) | rexB)
    return uimm(1)
  }
  if (b >= 0xb8 && b <= 0xbf) {
    d.op = Op.MOV_RI
    d.reg = (b & 7) | rexB
    if (vsize === 8) {
      if (!need(8)) return
      d.imm = u32(code, p)
      d.immHi = u32(code, p + 4)
      p += 8
    } else uimm(vsize)
    return
  }
  if (b >= 0xd8 && b <= 0xdf) {
    d.kind = Kind.VECTOR
    d.op = Op.VECTOR
    return modrm()
  }
  // prettier-ignore
  switch (b) {
    case 0x63:
      d.op = vsize === 8 ? Op.MOVSX : Op.MOV_GE
      d.imm2 = 4
      return modrm()
    case 0x68: d.op = Op.PUSH_I; d.size = size64; return imm(opsize16 ? 2 : 4)
    case 0x6a: d.op = Op.PUSH_I; d.size = size64; return imm(1)
    case 0x69: d.op = Op.IMUL3; modrm(); return immz()
    case 0x6b: d.op = Op.IMUL3; modrm(); return imm(1)
    case 0x6c: case 0x6d: case 0x6e: case 0x6f: return sys()
    case 0x80: d.op = Op.ALU_EI; d.size = 1; modrm(); d.sub = d.reg & 7; byteRm(); return imm(1)
    case 0x81: d.op = Op.ALU_EI; modrm(); d.sub = d.reg & 7; return immz()
    case 0x83: d.op = Op.ALU_EI; modrm(); d.sub = d.reg & 7; return imm(1)
    case 0x84: d.op = Op.TEST_EG; d.size = 1; modrm(); return byteOperands()
    case 0x85: d.op = Op.TEST_EG; return modrm()
    case 0x86: d.op = Op.XCHG; d.size = 1; modrm(); return byteOperands()
    case 0x87: d.op = Op.XCHG; return modrm()
    case 0x88: d.op = Op.MOV_EG; d.size = 1; modrm(); return byteOperands()
    case 0x89: d.op = Op.MOV_EG; return modrm()
    case 0x8a: d.op = Op.MOV_GE; d.size = 1; modrm(); return byteOperands()
    case 0x8b: d.op = Op.MOV_GE; return modrm()
    case 0x8c: case 0x8e: return sys(true)
    case 0x8d:
      d.op = Op.LEA
      modrm()
      if (d.mod === 3) ok = false
      return
    case 0x8f:
      d.op = Op.POP_E
      d.size = size64
      modrm()
      if ((d.reg & 7) !== 0) unknown()
      return
    case 0x90:
      if (rexB) {
        d.op = Op.XCHG
        d.mod = 3
        d.rm = 8
        d.reg = 0
        return
      }
      d.op = rep === 0xf3 ? Op.PAUSE : Op.NOP
      return
    case 0x98: d.op = Op.CBW; return
    case 0x99: d.op = Op.CWD; return
    case 0x9c: d.op = Op.PUSHF; d.size = size64; return
    case 0x9d: d.op = Op.POPF; d.size = size64; return
    case 0x9e: d.op = Op.SAHF; return
    case 0x9f: d.op = Op.LAHF; return
    case 0xa0: case 0xa1: case 0xa2: case 0xa3:
      d.op = Op.MOV_MOFFS
      d.size = b & 1 ? vsize : 1
      d.sub = b & 2 ? 1 : 0 // 1: store
      if (!need(addr32 ? 4 : 8)) return
      d.tLo = u32(code, p)
      d.tHi = addr32 ? 0 : u32(code, p + 4)
      p += addr32 ? 4 : 8
      return
    case 0xa8: d.op = Op.TEST_EI; d.size = 1; d.mod = 3; d.rm = 0; return imm(1)
    case 0xa9: d.op = Op.TEST_EI; d.mod = 3; d.rm = 0; return immz()
    case 0xa4: case 0xa5: return str(Str.MOVS, b)
    case 0xa6: case 0xa7: return str(Str.CMPS, b)
    case 0xaa: case 0xab: return str(Str.STOS, b)
    case 0xac: case 0xad: return str(Str.LODS, b)
    case 0xae: case 0xaf: return str(Str.SCAS, b)
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
      d.op = Op.SHIFT
      d.size = b & 1 ? vsize : 1
      modrm()
      if (d.size === 1) byteRm()
      d.sub = d.reg & 7
      if (b <= 0xc1) {
        d.imm2 = 0
        uimm(1)
      } else if (b <= 0xd1) {
        d.imm2 = 0
        d.imm = 1
      } else d.imm2 = 1 // count in %cl
      return
    case 0xc2: d.op = Op.RET; d.size = size64; return uimm(2)
    case 0xc3: d.op = Op.RET; d.size = size64; return
    case 0xc6: case 0xc7:
      modrm()
      if (d.mod === 3 && (d.reg & 7) === 7 && d.rm === 0) {
        // xabort / xbegin (TSX)
        if (b === 0xc6) return void (uimm(1), sys())
        rel(opsize16 ? 2 : 4)
        return sys()
      }
      if ((d.reg & 7) !== 0) return unknown()
      d.op = Op.MOV_EI
      if (b === 0xc6) {
        d.size = 1
        byteRm()
        return imm(1)
      }
      return immz()
    case 0x9b: d.kind = Kind.VECTOR; d.op = Op.VECTOR; return // fwait (x87)
    case 0xc8:
      d.op = Op.ENTER
      d.size = size64
      uimm(2)
      if (!need(1)) return
      d.imm2 = code[p++]!
      return
    case 0xc9: d.op = Op.LEAVE; d.size = size64; return
    case 0xca: case 0xcb: return sys(false, b === 0xca ? 2 : 0)
    case 0xcc: d.op = Op.INT3; return
    case 0xcd: d.op = Op.INT; return uimm(1)
    case 0xcf: return sys()
    case 0xd7: d.op = Op.XLAT; d.size = 1; return
    case 0xe0: case 0xe1: case 0xe2:
      d.op = Op.LOOP
      d.sub = b - 0xe0
      return rel(1)
    case 0xe3: d.op = Op.JRCXZ; return rel(1)
    case 0xe4: case 0xe5: case 0xe6: case 0xe7: return io(b, true)
    case 0xe8: d.op = Op.CALL; return rel(4)
    case 0xe9: d.op = Op.JMP; return rel(4)
    case 0xeb: d.op = Op.JMP; return rel(1)
    case 0xec: case 0xed: case 0xee: case 0xef: return io(b, false)
    case 0xf1: d.op = Op.INT3; return
    case 0xf4: d.op = Op.HLT; return
    case 0xf5: d.op = Op.CMC; return
    case 0xf6: case 0xf7:
      d.op = Op.GRP3
      d.size = b === 0xf6 ? 1 : vsize
      modrm()
      if (d.size === 1) byteRm()
      d.sub = d.reg & 7
      if (d.sub < 2) {
        if (b === 0xf6) imm(1)
        else immz()
      }
      return
    case 0xf8: d.op = Op.CLC; return
    case 0xf9: d.op = Op.STC; return
    case 0xfa: d.op = Op.CLI; return
    case 0xfb: d.op = Op.STI; return
    case 0xfc: d.op = Op.CLD; return
    case 0xfd: d.op = Op.STD; return
    case 0xfe:
      d.op = Op.INCDEC
      d.size = 1
      modrm()
      byteRm()
      d.sub = d.reg & 7
      if (d.sub > 1) unknown()
      return
    case 0xff: {
      modrm()
      const r = d.reg & 7
      d.sub = r
      if (r <= 1) d.op = Op.INCDEC
      else if (r === 2) set(Op.CALL_E, 8)
      else if (r === 4) set(Op.JMP_E, 8)
      else if (r === 6) set(Op.PUSH_E, size64)
      else if (r === 3 || r === 5) sys(false, -1)
      else unknown()
      return
    }
    default:
      return unknown()
  }
}

function twoByte(b: number): void {
  if (b >= 0x80 && b <= 0x8f) {
    d.op = Op.JCC
    d.sub = b & 15
    return rel(opsize16 ? 2 : 4)
  }
  if (b >= 0x40 && b <= 0x4f) {
    d.op = Op.CMOVCC
    d.sub = b & 15
    return modrm()
  }
  if (b >= 0x90 && b <= 0x9f) {
    d.op = Op.SETCC
    d.sub = b & 15
    d.size = 1
    modrm()
    return byteRm()
  }
  if (b >= 0xc8 && b <= 0xcf) {
    d.op = Op.BSWAP
    d.reg = (b & 7) | rexB
    return
  }
  if (b >= 0x19 && b <= 0x1f) {
    // Hint NOPs; f3 0f 1e fa is endbr64.
    d.op = Op.NOP
    return modrm()
  }
  if (VEC2[b]) {
    d.kind = Kind.VECTOR
    d.op = Op.VECTOR
    if (b === 0x77) return // emms
    modrm()
    if (VEC2_IMM.has(b)) uimm(1)
    return
  }
  // prettier-ignore
  switch (b) {
    case 0x00: case 0x02: case 0x03: return sys(true)
    case 0x01: {
      if (!need(1)) return
      const m = code[p]
      if (m === 0xca || m === 0xcb) {
        p++
        d.op = Op.NOP // clac / stac: SMAP is not modelled
        return
      }
      if (m === 0xf9) {
        p++
        d.op = Op.RDTSCP
        return
      }
      return sys(true)
    }
    case 0x05: case 0x06: case 0x07: case 0x08: case 0x09: case 0x30: case 0x32: case 0x33: case 0x34: case 0x35: case 0x37: case 0xa0: case 0xa1: case 0xa8: case 0xa9: case 0xaa:
      return sys()
    case 0x0b: case 0xb9: case 0xff:
      d.op = Op.UD
      if (b !== 0x0b) modrm() // ud1 / ud0 take a ModRM byte
      return
    case 0x0d: case 0x18: d.op = Op.NOP; return modrm() // prefetch
    case 0x0e: d.kind = Kind.VECTOR; d.op = Op.VECTOR; return // femms
    case 0x0f: d.kind = Kind.VECTOR; d.op = Op.VECTOR; modrm(); return uimm(1) // 3DNow!
    case 0x20: case 0x21: case 0x22: case 0x23: return sys(true)
    case 0x31: d.op = Op.RDTSC; return
    case 0x38: return threeByte38()
    case 0x3a:
      if (!need(1)) return
      d.opcode = 0x0f3a00 | code[p++]!
      d.kind = Kind.VECTOR
      d.op = Op.VECTOR
      modrm()
      return uimm(1)
    case 0x78: case 0x79: return sys(true) // vmread / vmwrite
    case 0xa6: case 0xa7: return sys(true) // VIA PadLock xsha*/xcrypt*/xstore
    case 0xa2: d.op = Op.CPUID; return
    case 0xa3: d.op = Op.BT; d.sub = 0; return modrm()
    case 0xab: d.op = Op.BT; d.sub = 1; return modrm()
    case 0xb3: d.op = Op.BT; d.sub = 2; return modrm()
    case 0xbb: d.op = Op.BT; d.sub = 3; return modrm()
    case 0xba:
      modrm()
      if ((d.reg & 7) < 4) return unknown()
      d.op = Op.BT
      d.sub = (d.reg & 7) - 4
      d.imm2 = 1 // bit offset is the immediate
      return uimm(1)
    case 0xa4: d.op = Op.SHLD; modrm(); return uimm(1)
    case 0xa5: d.op = Op.SHLD; d.imm2 = 1; return modrm()
    case 0xac: d.op = Op.SHRD; modrm(); return uimm(1)
    case 0xad: d.op = Op.SHRD; d.imm2 = 1; return modrm()
    case 0xae: {
      modrm()
      const r = d.reg & 7
      if (d.mod === 3) {
        if (rep === 0 && r >= 5) d.op = Op.NOP // lfence / mfence / sfence
        else sys()
        return
      }
      if ((r === 7 || (r === 6 && opsize16)) && rep === 0) d.op = Op.NOP // clflush / clflushopt / clwb
      else sys()
      return
    }
    case 0xaf: d.op = Op.IMUL2; return modrm()
    case 0xb0: d.op = Op.CMPXCHG; d.size = 1; modrm(); return byteOperands()
    case 0xb1: d.op = Op.CMPXCHG; return modrm()
    case 0xb2: case 0xb4: case 0xb5: return sys(true)
    case 0xb6: d.op = Op.MOVZX; d.imm2 = 1; modrm(); return byteRm()
    case 0xb7: d.op = Op.MOVZX; d.imm2 = 2; return modrm()
    case 0xbe: d.op = Op.MOVSX; d.imm2 = 1; modrm(); return byteRm()
    case 0xbf: d.op = Op.MOVSX; d.imm2 = 2; return modrm()
    case 0xb8:
      if (rep !== 0xf3) return unknown()
      d.op = Op.POPCNT
      return modrm()
    case 0xbc: d.op = rep === 0xf3 ? Op.TZCNT : Op.BSF; return modrm()
    case 0xbd: d.op = rep === 0xf3 ? Op.LZCNT : Op.BSR; return modrm()
    case 0xc0: d.op = Op.XADD; d.size = 1; modrm(); return byteOperands()
    case 0xc1: d.op = Op.XADD; return modrm()
    case 0xc3: d.op = Op.MOV_EG; return modrm() // movnti
    case 0xc7: {
      modrm()
      const r = d.reg & 7
      if (r === 1 && d.mod !== 3) {
        d.op = Op.CMPXCHG16
        d.size = vsize === 8 ? 16 : 8
        return
      }
      if ((r === 6 || r === 7) && d.mod === 3 && rep === 0) {
        d.op = Op.RDRAND
        return
      }
      return sys()
    }
    default:
      return unknown()
  }
}

function threeByte38(): void {
  if (!need(1)) return
  const b = code[p++]!
  d.opcode = 0x0f3800 | b
  if (b === 0xf0 || b === 0xf1) {
    modrm()
    if (rep === 0xf2) return sys() // crc32: not executed
    if (d.mod === 3) return unknown()
    d.op = Op.MOVBE
    d.sub = b & 1 // 1: store
    if (b === 0xf0) d.size = vsize
    return
  }
  if (b === 0xf6 && rep !== 0) return void (modrm(), sys()) // adcx / adox
  if (b >= 0x80 && b <= 0x82 && opsize16) return sys(true) // invept / invvpid / invpcid
  if (b === 0xf5 && opsize16) return void (modrm(), sys()) // wrussq
  d.kind = Kind.VECTOR
  d.op = Op.VECTOR
  modrm()
}

function vex(b: number): void {
  // In 64-bit mode c4/c5/62 always start VEX/EVEX prefixes.
  d.kind = Kind.VECTOR
  d.op = Op.VECTOR
  let map = 1
  if (b === 0xc5) {
    if (!need(2)) return
    p++
  } else if (b === 0xc4) {
    if (!need(3)) return
    map = code[p]! & 0x1f
    p += 2
  } else {
    if (!need(4)) return
    map = code[p]! & 0x07
    p += 3
  }
  const opc = code[p++]!
  d.opcode = (b << 16) | (map << 8) | opc
  if (map === 1 && opc === 0x77) return // vzeroupper / vzeroall
  modrm()
  if (map === 3 || (map === 1 && VEC2_IMM.has(opc))) uimm(1)
}

function str(kind: number, b: number): void {
  d.op = Op.STRING
  d.sub = kind
  d.size = b & 1 ? vsize : 1
}
function set(o: number, size: number): void {
  d.op = o
  d.size = size
}
function sys(withModrm = false, immBytes = 0): void {
  d.kind = Kind.SYSTEM
  d.op = Op.SYSTEM
  if (withModrm) modrm()
  if (immBytes > 0) uimm(immBytes)
}
/** in/out: port I/O (privileged; run only when the CPU has an I/O handler). sub 1 = out. */
function io(b: number, immPort: boolean): void {
  sys()
  d.op = Op.IO
  d.size = b & 1 ? (opsize16 ? 2 : 4) : 1
  d.sub = b & 2 ? 1 : 0
  d.imm2 = immPort ? 0 : 1 // 1: port in %dx
  if (immPort) uimm(1)
}
function unknown(): void {
  ok = false
}
function byteOperands(): void {
  d.reg = r8(d.reg)
  if (d.mod === 3) d.rm = r8(d.rm)
}
function byteRm(): void {
  if (d.mod === 3) d.rm = r8(d.rm)
}

function fail(d: Insn): Insn {
  d.kind = Kind.UNKNOWN
  d.op = Op.UNKNOWN
  d.len = 0
  return d
}

function setTarget(d: Insn, ripLo: number, ripHi: number, delta: number): void {
  const s = ripLo + delta
  const carry = Math.floor(s / TWO32)
  d.tLo = s - carry * TWO32
  d.tHi = (ripHi + carry) >>> 0
}

function s32(b: Uint8Array, p: number): number {
  return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)
}
function u32(b: Uint8Array, p: number): number {
  return s32(b, p) >>> 0
}
