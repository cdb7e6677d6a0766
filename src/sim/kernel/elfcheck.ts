import { KERN_ERR } from './printk.js'
import type { Printk } from './printk.js'
import { errno } from './types.js'
import { SHT_NOBITS, SHT_NULL, SHT_SYMTAB, TOO_BIG } from '../../elf/read.js'

const { ENOEXEC, EBADMSG, ENOPKG } = errno

const MODULE_SIG_STRING = '~Module signature appended~\n'
/** sizeof(struct module_signature). */
const MODSIG_SIZE = 12
const PKEY_ID_PKCS7 = 2

export const SHF_ALLOC = 0x2
export const SHF_WRITE = 0x1
export const SHF_EXECINSTR = 0x4
/** Set by the loader on .data..ro_after_init and __jump_table. */
export const SHF_RO_AFTER_INIT = 0x00200000

/** A section header as the loader sees and rewrites it (flags are mutable). */
export interface KSection {
  index: number
  name: string
  type: number
  flags: number
  offset: number
  size: number
  link: number
  /** sh_addralign's low 32 bits (2^32 when only the high word is set): what module_get_offset() aligns by. */
  align: number
}

export interface CheckedImage {
  /** info->len after the signature was cut off. */
  len: number
  sigOk: boolean
  sections: KSection[]
}

/**
 * module_sig_check() then elf_validity_check() of kernel/module/main.c (6.1): the
 * same order, the same kernel log lines, 0 or -errno. A present, well-formed
 * PKCS#7 signature counts as verified: the simulator holds no keyring.
 */
export function checkImage(image: Uint8Array, flags: number, log: Pick<Printk, 'log'>): CheckedImage | number {
  let len = image.length
  let sigOk = false
  const mangled = (flags & 3) !== 0
  const marker = MODULE_SIG_STRING.length
  if (!mangled && len > marker && endsWithMarker(image, len)) {
    len -= marker
    const r = verifySig(image, len, log)
    if (typeof r === 'number') {
      // -ENOPKG is one of the non-fatal reasons: the module loads as unsigned.
      if (r !== -ENOPKG) return r
    } else {
      len = r.len
      sigOk = true
    }
  }
  const sections = validity(image, len, log)
  if (typeof sections === 'number') return sections
  return { len, sigOk, sections }
}

function endsWithMarker(b: Uint8Array, len: number): boolean {
  const m = MODULE_SIG_STRING
  for (let i = 0; i < m.length; i++) if (b[len - m.length + i] !== m.charCodeAt(i)) return false
  return true
}

/** mod_verify_sig() up to the crypto: returns the module length without the signature. */
function verifySig(b: Uint8Array, len: number, log: Pick<Printk, 'log'>): number | { len: number } {
  if (len <= MODSIG_SIZE) return -EBADMSG
  const o = len - MODSIG_SIZE
  // struct module_signature: the MODSIG_SIZE bytes at o lie inside the image (len <= b.length).
  const sigLen = ((b[o + 8]! << 24) >>> 0) + (b[o + 9]! << 16) + (b[o + 10]! << 8) + b[o + 11]!
  if (sigLen >= len - MODSIG_SIZE) return -EBADMSG
  if (b[o + 2] !== PKEY_ID_PKCS7) {
    log.log(KERN_ERR, 'module: not signed with expected PKCS#7 message')
    return -ENOPKG
  }
  for (const i of [0, 1, 3, 4, 5, 6, 7]) {
    if (b[o + i] !== 0) {
      log.log(KERN_ERR, 'module: PKCS#7 signature info has unexpected non-zero params')
      return -EBADMSG
    }
  }
  return { len: len - MODSIG_SIZE - sigLen }
}

// Field readers: validity() calls them only on the ELF header and section headers it checked lie within len.
function u16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8)
}
function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000
}
/** A 64-bit field as a number; values from 2^53 read as 2^53 (TOO_BIG): bounds checks fail, no Infinity reaches arithmetic. */
function u64(b: Uint8Array, o: number): number {
  const hi = u32(b, o + 4)
  return hi < 0x200000 ? hi * 0x100000000 + u32(b, o) : TOO_BIG
}

/**
 * sh_addralign as the layout uses it: ALIGN(*size, a) on an unsigned int size casts `a` to 32 bits,
 * so only its low word counts; 2^32 stands for a non-zero value whose low word is 0 (ALIGN then gives 0).
 */
function align32(b: Uint8Array, o: number): number {
  const lo = u32(b, o)
  return lo !== 0 ? lo : u32(b, o + 4) !== 0 ? 2 ** 32 : 0
}

function validity(b: Uint8Array, len: number, log: Pick<Printk, 'log'>): KSection[] | number {
  const err = (msg: string): number => {
    log.log(KERN_ERR, msg)
    return -ENOEXEC
  }
  if (len < 64) return err(`Invalid ELF header len ${len}`)
  if (b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46) return err('Invalid ELF header magic: != \x7fELF')
  const type = u16(b, 16)
  if (type !== 1) return err(`Invalid ELF header type: ${type} != 1`)
  const machine = u16(b, 18)
  if (machine !== 62) return err(`Invalid architecture in ELF header: ${machine}`)
  if (u16(b, 58) !== 64) return err('Invalid ELF section header size')
  const shoff = u64(b, 40)
  const shnum = u16(b, 60)
  if (shoff >= len || shnum * 64 > len - shoff) return err('Invalid ELF section header overflow')
  const shstrndx = u16(b, 62)
  if (shstrndx === 0 || shstrndx >= shnum) {
    return err(`Invalid ELF section name index: ${shstrndx} || e_shstrndx (${shstrndx}) >= e_shnum (${shnum})`)
  }
  const raw = (i: number) => {
    const o = shoff + i * 64
    return {
      // sh_flags: the low word holds every flag the loader tests (a huge value must keep its bits).
      nameOff: u32(b, o),
      type: u32(b, o + 4),
      flags: u32(b, o + 8),
      addr: u64(b, o + 16),
      offset: u64(b, o + 24),
      size: u64(b, o + 32),
      link: u32(b, o + 40),
      align: align32(b, o + 48),
    }
  }
  const bad = (s: { offset: number; size: number }) => !(s.offset + s.size <= len)
  const str = raw(shstrndx)
  if (bad(str)) {
    log.log(KERN_ERR, `Invalid ELF section hdr(type ${str.type})`)
    return -ENOEXEC
  }
  if (str.size === 0) return err('empty section name table')
  if (b[str.offset + str.size - 1] !== 0) return err("ELF Spec violation: section name table isn't null terminated")
  const s0 = raw(0)
  if (s0.type !== SHT_NULL || s0.size !== 0 || s0.addr !== 0) {
    return err(`ELF Spec violation: section 0 type(${s0.type})!=SH_NULL or non-zero len or addr`)
  }
  const sections: KSection[] = []
  for (let i = 0; i < shnum; i++) {
    const s = raw(i)
    if (i > 0 && s.type !== SHT_NULL && s.type !== SHT_NOBITS) {
      if (s.type === SHT_SYMTAB && (s.link === 0 || s.link >= shnum)) {
        return err(`Invalid ELF sh_link!=SHN_UNDEF(${s.link}) or (sh_link(${s.link}) >= hdr->e_shnum(${shnum})`)
      }
      if (bad(s)) return err(`Invalid ELF section in module (section ${i} type ${s.type})`)
      if (s.flags & SHF_ALLOC && s.nameOff >= str.size) return err(`Invalid ELF section name in module (section ${i} type ${s.type})`)
    }
    let end = str.offset + Math.min(s.nameOff, str.size - 1)
    const start = end
    while (b[end] !== 0) end++
    sections.push({
      index: i,
      name: Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('latin1'),
      type: s.type,
      flags: s.flags,
      offset: s.offset,
      size: s.size,
      link: s.link,
      align: s.align,
    })
  }
  return sections
}

/** find_sec(): the first SHF_ALLOC section with this name, or 0. */
export function findSec(sections: KSection[], name: string): number {
  for (let i = 1; i < sections.length; i++) {
    const s = sections[i]!
    if (s.flags & SHF_ALLOC && s.name === name) return i
  }
  return 0
}
