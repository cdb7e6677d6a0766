// load_module()'s first steps (kernel/module/main.c, 6.1): the image parsed once, then setup_load_info().
import { Buffer } from 'node:buffer'
import { moduleFromElf } from '../../elf/module.js'
import { readElf, SHT_NOBITS, SHT_SYMTAB, type ElfFile } from '../../elf/read.js'
import type { ModuleInfo } from '../../elf/types.js'
import { findSec, SHF_ALLOC, type KSection } from './elfcheck.js'
import { KERN_WARNING } from './printk.js'
import type { KernelState } from './state.js'
import type { ImageFacts, ParsedImage } from './image-facts.js'
import { errno, MODULE_INIT_IGNORE_MODVERSIONS } from './types.js'

/** What setup_load_info() found: the sections by role, .modinfo's strings and the module's static facts. */
export interface LoadInfo {
  elf: ElfFile
  info: ModuleInfo
  sections: KSection[]
  /** The first value of a .modinfo tag, as get_modinfo() returns it. */
  get(tag: string): string | undefined
  /** Every value of a .modinfo tag. */
  all(tag: string): string[]
  /** The name .modinfo gives, else the one in .gnu.linkonce.this_module. */
  infoName: string
  infoIdx: number
  symIdx: number
  /** 0 when __versions is absent or ignored (MODULE_INIT_IGNORE_MODVERSIONS). */
  versIdx: number
  pcpuIdx: number
}

/** Strings of .modinfo as get_modinfo() walks them. */
function modinfoOf(elf: ElfFile, s: KSection | undefined): Array<[string, string]> {
  if (!s || s.type === SHT_NOBITS) return []
  const data = elf.sectionData(elf.sections[s.index]!)
  const out: Array<[string, string]> = []
  let i = 0
  while (i < data.length) {
    if (data[i] === 0) {
      i++
      continue
    }
    let end = data.indexOf(0, i)
    if (end < 0) end = data.length
    const str = Buffer.from(data.buffer, data.byteOffset + i, end - i).toString('utf8')
    const eq = str.indexOf('=')
    if (eq > 0) out.push([str.slice(0, eq), str.slice(eq + 1)])
    i = end + 1
  }
  return out
}

/** readElf() of the image's first `len` bytes, or the parse kept with its facts; throws as readElf does. */
function parseImage(facts: ImageFacts, len: number): ParsedImage {
  let parsed = facts.parsed.get(len)
  if (!parsed) {
    const bytes = len === facts.bytes.length ? facts.bytes : facts.bytes.subarray(0, len)
    parsed = { bytes, elf: readElf(bytes, { kernel: true }) }
    facts.parsed.set(len, parsed)
  }
  return parsed
}

/**
 * setup_load_info() and rewrite_section_headers() of an image elf_validity_check() passed: a number is the
 * errno to fail with (after the kernel's log line, or a note where the simulator stops short of the kernel).
 */
export function setupLoadInfo(k: KernelState, facts: ImageFacts, sections: KSection[], len: number, flags: number): LoadInfo | number {
  let parsed: ParsedImage
  try {
    parsed = parseImage(facts, len)
  } catch {
    // elf_validity_check() passed: what readElf still refuses, the kernel would read as garbage.
    k.notes.push(
      'the module file is malformed in a way elf_validity_check() lets through: the real kernel reads it anyway and what it then does is not simulated; the simulator refuses it with -ENOEXEC',
    )
    return -errno.ENOEXEC
  }
  const elf = parsed.elf
  const infoIdx = findSec(sections, '.modinfo')
  const modinfo = (parsed.modinfo ??= infoIdx ? modinfoOf(elf, sections[infoIdx]) : [])
  const get = (tag: string) => modinfo.find(([key]) => key === tag)?.[1]
  const all = (tag: string) => modinfo.filter(([key]) => key === tag).map(([, v]) => v)
  const early = get('name')
  const symIdx = sections.findIndex((s, i) => i > 0 && s.type === SHT_SYMTAB)
  if (symIdx <= 0) {
    k.printk.log(KERN_WARNING, `${early ?? '(missing .modinfo section or name field)'}: module has no symbols (stripped?)`)
    return -errno.ENOEXEC
  }
  const modIdx = findSec(sections, '.gnu.linkonce.this_module')
  if (!modIdx) {
    k.printk.log(KERN_WARNING, `${early ?? '(missing .modinfo section or name field)'}: No module found in object`)
    return -errno.ENOEXEC
  }
  let info: ModuleInfo
  try {
    info = parsed.info ??= moduleFromElf(elf, { kernel: true })
  } catch {
    k.notes.push(
      'the module file is malformed in a way the kernel does not check: the simulator refuses it with -ENOEXEC; what the real kernel does is not simulated',
    )
    return -errno.ENOEXEC
  }
  const versIdx = flags & MODULE_INIT_IGNORE_MODVERSIONS ? 0 : findSec(sections, '__versions')
  const pcpuIdx = findSec(sections, '.data..percpu')
  // rewrite_section_headers(): modinfo and versions are tracked but not kept.
  sections[versIdx]!.flags &= ~SHF_ALLOC
  sections[infoIdx]!.flags &= ~SHF_ALLOC
  return { elf, info, sections, get, all, infoName: early ?? info.name, infoIdx, symIdx, versIdx, pcpuIdx }
}
