// apply_relocate_add for x86-64 as Linux 6.1's arch/x86/kernel/module.c does it. The message
// texts are the ones in the 6.1.0-56-amd64 vmlinux (pr_fmt "module: "); 6.3 changed them.

/** R_X86_64_* types the kernel handles. */
export const R_X86_64_NONE = 0
export const R_X86_64_64 = 1
export const R_X86_64_PC32 = 2
export const R_X86_64_PLT32 = 4
export const R_X86_64_32 = 10
export const R_X86_64_32S = 11
export const R_X86_64_PC64 = 24

const ENOEXEC = 8
const KERN_ERR = 3

/** One Elf64_Rela entry. */
export interface Rela {
  offset: number
  type: number
  sym: number
  /** r_addend (signed); a bigint keeps all 64 bits. */
  addend: number | bigint
}

/** Where relocated bytes go: GuestMemory fits, and so does `bufferTarget`. */
export interface RelocTarget {
  read(addr: bigint, len: number): Uint8Array
  write(addr: bigint, data: Uint8Array): void
  /** Optional fast path: a writable view of [addr, addr+len) when reading and writing it cannot fault, else undefined. */
  span?(addr: bigint, len: number): Uint8Array | undefined
}

/** A kernel log line the relocation code printed. */
export interface RelocMessage {
  level: number
  text: string
}

export interface RelocateInput {
  /** The module's name (me->name), for "Unknown rela relocation" and the -mcmodel hint. */
  module: string
  /** Load address of the section the relocations apply to (sh_addr after layout). */
  sectionAddr: bigint
  relocs: Iterable<Rela>
  /** Resolved st_value of symbol `index` (after simplify_symbols). */
  symbolValue(index: number): bigint
  target: RelocTarget
  /**
   * How `%p` prints a location. The real kernel hashes pointers with a per-boot random key, so
   * no simulator can reproduce it; the default is a stable stand-in of the same shape.
   */
  formatPointer?: (addr: bigint) => string
}

export type RelocateResult = { ok: true } | { ok: false; errno: number; messages: RelocMessage[] }

/**
 * Applies one RELA section to its target as 6.1's __apply_relocate_add does: each location must
 * still be zero, R_X86_64_32/32S are checked for overflow after the write, PC32/PLT32 are not.
 *
 * @example
 * const r = applyRelocateAdd({ module: 'hello', sectionAddr: textAddr, relocs: elf.relocationsFor(text),
 *   symbolValue: (i) => values[i], target: cpu.memory })
 * if (!r.ok) r.messages // [{ level: 3, text: 'module: hello: Unknown rela relocation: 42' }], r.errno === 8
 */
export function applyRelocateAdd(input: RelocateInput): RelocateResult {
  const fmtPtr = input.formatPointer ?? stablePointer
  const fail = (...texts: string[]): RelocateResult => ({ ok: false, errno: ENOEXEC, messages: texts.map((text) => ({ level: KERN_ERR, text })) })
  for (const rel of input.relocs) {
    const loc = BigInt.asUintN(64, input.sectionAddr + BigInt(rel.offset))
    const val0 = BigInt.asUintN(64, input.symbolValue(rel.sym) + BigInt(rel.addend))
    let val = val0
    let size: number
    switch (rel.type) {
      case R_X86_64_NONE:
        continue
      case R_X86_64_64:
        size = 8
        break
      case R_X86_64_32:
      case R_X86_64_32S:
        size = 4
        break
      case R_X86_64_PC32:
      case R_X86_64_PLT32:
        val = BigInt.asUintN(64, val - loc)
        size = 4
        break
      case R_X86_64_PC64:
        val = BigInt.asUintN(64, val - loc)
        size = 8
        break
      default:
        return fail(`module: ${input.module}: Unknown rela relocation: ${BigInt(rel.type)}`)
    }
    // In one readable and writable page: check and write in place (no fault possible there, so the same result).
    const view = input.target.span?.(loc, size)
    if (view !== undefined) {
      let nonzero = false
      for (let i = 0; i < size; i++) if (view[i] !== 0) nonzero = true
      if (nonzero)
        return fail(
          `module: x86/modules: Skipping invalid relocation target, existing value is nonzero for type ${rel.type}, loc ${fmtPtr(loc)}, val ${val.toString(16)}`,
        )
      putLe(view, val, size)
      if (rel.type === R_X86_64_32 && val !== BigInt.asUintN(32, val)) return overflow(rel.type, val)
      if (rel.type === R_X86_64_32S && BigInt.asIntN(64, val) !== BigInt.asIntN(32, val)) return overflow(rel.type, val)
      continue
    }
    const existing = input.target.read(loc, size)
    if (existing.some((b) => b !== 0)) {
      return fail(
        `module: x86/modules: Skipping invalid relocation target, existing value is nonzero for type ${rel.type}, loc ${fmtPtr(loc)}, val ${val.toString(16)}`,
      )
    }
    input.target.write(loc, le(val, size))
    if (rel.type === R_X86_64_32 && val !== BigInt.asUintN(32, val)) return overflow(rel.type, val)
    if (rel.type === R_X86_64_32S && BigInt.asIntN(64, val) !== BigInt.asIntN(32, val)) return overflow(rel.type, val)
  }
  return { ok: true }

  function overflow(type: number, val: bigint): RelocateResult {
    return fail(`module: overflow in relocation type ${type} val ${val.toString(16)}`, `module: \`${input.module}' likely not compiled with -mcmodel=kernel`)
  }
}

/**
 * A RelocTarget over a plain buffer holding bytes loaded at `base`.
 *
 * @example applyRelocateAdd({ ..., target: bufferTarget(sectionCopy, textAddr) })
 */
export function bufferTarget(buf: Uint8Array, base: bigint): RelocTarget {
  const at = (addr: bigint, len: number): number => {
    const off = addr - base
    if (off < 0n || off + BigInt(len) > BigInt(buf.length)) {
      throw new RangeError(`relocation at 0x${addr.toString(16)} lies outside the ${buf.length}-byte buffer at 0x${base.toString(16)}`)
    }
    return Number(off)
  }
  return {
    read: (addr, len) => buf.slice(at(addr, len), at(addr, len) + len),
    write: (addr, data) => buf.set(data, at(addr, data.length)),
  }
}

/** The low `size` bytes of `v`, little-endian, into `out` (two 32-bit halves: no bigint per byte). */
function putLe(out: Uint8Array, v: bigint, size: number): void {
  // masks, not BigInt.asUintN(32, ...): node 20's optimizer crashes on that here (RepresentationChangerError)
  let lo = Number(v & 0xffffffffn)
  let hi = size > 4 ? Number((v >> 32n) & 0xffffffffn) : 0
  for (let i = 0; i < size; i++) {
    if (i < 4) {
      out[i] = lo & 0xff
      lo >>>= 8
    } else {
      out[i] = hi & 0xff
      hi >>>= 8
    }
  }
}

function le(v: bigint, size: number): Uint8Array {
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn)
  return out
}

/** `%p`-shaped stand-in for a hashed pointer: 16 hex digits, stable for an address. */
function stablePointer(addr: bigint): string {
  let h = 0x811c9dc5
  for (let i = 0n; i < 64n; i += 8n) h = Math.imul(h ^ Number((addr >> i) & 0xffn), 0x01000193) >>> 0
  return `00000000${h.toString(16).padStart(8, '0')}`
}
