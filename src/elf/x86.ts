/**
 * A minimal x86-64 instruction length decoder: enough to walk compiled kernel functions
 * one instruction at a time and recognise calls, jumps, returns and a few moves.
 * It decodes lengths, not semantics; anything it does not know yields `undefined`.
 */
export interface X86Insn {
  /** Offset of the first byte (prefixes included). */
  start: number
  length: number
  /** Offset of the opcode byte (after prefixes and REX). */
  opAt: number
  /** 0x0f-prefixed opcodes are 0x0f00 | second byte. */
  opcode: number
  rex: number
  /** The ModRM byte, or -1. */
  modrm: number
  /** The SIB byte, or -1. */
  sib: number
  /** Offset of the immediate or displacement-to-the-end field, for matching relocations. */
  immAt: number
  /** Immediate value for the forms the walker needs (mov imm32, rel8/rel32), else 0. */
  imm: number
}

const PREFIXES = new Set([0xf0, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65, 0x66, 0x67])

/** One-byte opcodes that take a ModRM byte. */
const MODRM1 = new Uint8Array(256)
for (let b = 0; b < 0x40; b++) if ((b & 7) < 4) MODRM1[b] = 1
for (const b of [0x62, 0x63, 0x69, 0x6b, 0x80, 0x81, 0x82, 0x83, 0xc0, 0xc1, 0xc4, 0xc5, 0xc6, 0xc7, 0xd0, 0xd1, 0xd2, 0xd3, 0xf6, 0xf7, 0xfe, 0xff]) MODRM1[b] = 1
for (let b = 0x84; b <= 0x8f; b++) MODRM1[b] = 1
for (let b = 0xd8; b <= 0xdf; b++) MODRM1[b] = 1

/** Two-byte (0x0f xx) opcodes without ModRM. */
const NO_MODRM2 = new Set([0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x0e, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x37, 0x77, 0xa0, 0xa1, 0xa2, 0xa8, 0xa9, 0xaa])
/** Two-byte opcodes with an imm8 after ModRM. */
const IMM8_2 = new Set([0x70, 0x71, 0x72, 0x73, 0xa4, 0xac, 0xba, 0xc2, 0xc4, 0xc5, 0xc6])

/** Decode the instruction at `pos`; undefined when the bytes run out or the opcode is unknown. */
export function decodeInsn(code: Uint8Array, pos: number, end: number): X86Insn | undefined {
  let p = pos
  let opsize16 = false
  let addr32 = false
  while (p < end && PREFIXES.has(code[p])) {
    if (code[p] === 0x66) opsize16 = true
    if (code[p] === 0x67) addr32 = true
    p++
  }
  let rex = 0
  if (p < end && (code[p] & 0xf0) === 0x40) rex = code[p++]
  if (p >= end) return undefined
  const opAt = p
  let op = code[p++]
  let hasModrm = false
  let imm = 0 // immediate size in bytes
  const rexW = (rex & 8) !== 0
  const immz = opsize16 ? 2 : 4

  if (op === 0x0f) {
    if (p >= end) return undefined
    const op2 = code[p++]
    op = 0x0f00 | op2
    if (op2 === 0x38) {
      if (p >= end) return undefined
      p++
      hasModrm = true
    } else if (op2 === 0x3a) {
      if (p >= end) return undefined
      p++
      hasModrm = true
      imm = 1
    } else if (op2 >= 0x80 && op2 <= 0x8f) {
      imm = 4 // Jcc rel32
    } else if (op2 >= 0xc8 && op2 <= 0xcf) {
      // bswap reg
    } else if (NO_MODRM2.has(op2)) {
      // no operands
    } else {
      hasModrm = true
      if (IMM8_2.has(op2)) imm = 1
    }
  } else if (op === 0xc4 || op === 0xc5) {
    // VEX: in 64-bit mode these are always VEX prefixes.
    const vexLen = op === 0xc5 ? 1 : 2
    if (p + vexLen >= end) return undefined
    const map = op === 0xc5 ? 1 : code[p] & 0x1f
    p += vexLen
    op = 0xc400 | code[p++]
    hasModrm = !(map === 1 && op === 0xc477) // vzeroupper/vzeroall take no ModRM
    if (map === 3 || (map === 1 && IMM8_2.has(op & 0xff))) imm = 1
  } else if (op === 0x62) {
    return undefined // EVEX: not used by the code we model
  } else if (MODRM1[op]) {
    hasModrm = true
    if (op === 0x69 || op === 0x81 || op === 0xc7) imm = immz
    else if (op === 0x6b || op === 0x80 || op === 0x82 || op === 0x83 || op === 0xc0 || op === 0xc1 || op === 0xc6) imm = 1
  } else if ((op < 0x40 && (op & 7) === 4) || op === 0x6a || (op >= 0x70 && op <= 0x7f) || op === 0xa8 || (op >= 0xb0 && op <= 0xb7) || op === 0xcd || (op >= 0xe0 && op <= 0xe7) || op === 0xeb) {
    imm = 1
  } else if ((op < 0x40 && (op & 7) === 5) || op === 0x68 || op === 0xa9 || op === 0xe8 || op === 0xe9) {
    imm = op === 0xe8 || op === 0xe9 ? 4 : immz
  } else if (op >= 0xb8 && op <= 0xbf) {
    imm = rexW ? 8 : immz
  } else if (op >= 0xa0 && op <= 0xa3) {
    imm = addr32 ? 4 : 8
  } else if (op === 0xc2 || op === 0xca) {
    imm = 2
  } else if (op === 0xc8) {
    imm = 3
  } else if (
    (op >= 0x50 && op <= 0x5f) || (op >= 0x90 && op <= 0x9f) || (op >= 0xa4 && op <= 0xa7) || (op >= 0xaa && op <= 0xaf) ||
    (op >= 0x6c && op <= 0x6f) || (op >= 0xec && op <= 0xef) ||
    [0xc3, 0xc9, 0xcb, 0xcc, 0xcf, 0xf1, 0xf4, 0xf5, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xd7].includes(op)
  ) {
    // no operands
  } else {
    return undefined
  }

  let modrm = -1
  let sib = -1
  if (hasModrm) {
    if (p >= end) return undefined
    modrm = code[p++]
    const mod = modrm >> 6
    const rm = modrm & 7
    if (mod !== 3) {
      if (rm === 4) {
        if (p >= end) return undefined
        sib = code[p++]
        if (mod === 0 && (sib & 7) === 5) p += 4
      } else if (mod === 0 && rm === 5) {
        p += 4 // RIP-relative disp32
      }
      if (mod === 1) p += 1
      else if (mod === 2) p += 4
    }
    // test r/m, imm (F6/F7 /0 and /1) carries an immediate.
    if ((op === 0xf6 || op === 0xf7) && ((modrm >> 3) & 7) < 2) imm = op === 0xf6 ? 1 : immz
  }
  const immAt = imm > 0 ? p : hasModrm && modrm >> 6 === 0 && (modrm & 7) === 5 ? p - 4 : p
  const view = new DataView(code.buffer, code.byteOffset, code.byteLength)
  let value = 0
  if (p + imm > end) return undefined
  if (imm === 1) value = view.getInt8(p)
  else if (imm === 4) value = view.getInt32(p, true)
  else if (imm === 2) value = view.getInt16(p, true)
  p += imm
  if (p > end) return undefined
  return { start: pos, length: p - pos, opAt, opcode: op, rex, modrm, sib, immAt, imm: value }
}

/** Conditional branches: Jcc rel8/rel32, loop/jrcxz. */
export function isConditionalBranch(i: X86Insn): boolean {
  return (i.opcode >= 0x70 && i.opcode <= 0x7f) || (i.opcode >= 0x0f80 && i.opcode <= 0x0f8f) || (i.opcode >= 0xe0 && i.opcode <= 0xe3)
}

/** A memory operand at an absolute 32-bit address (`disp32` with no base and no index), e.g. `movl $1, 0x0`. */
export function isAbsoluteMemory(i: X86Insn): boolean {
  return i.modrm >= 0 && i.modrm >> 6 === 0 && (i.modrm & 7) === 4 && i.sib >= 0 && (i.sib & 7) === 5 && ((i.sib >> 3) & 7) === 4
}
