// Test support: lay out a relocatable .o/.ko in guest memory, relocate it with relocate.ts and
// bind its undefined symbols. A minimal stand-in for the loader, used by the CPU's own tests.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { readElf, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_NOBITS } from '../../elf/read.js'
import type { Cpu } from './cpu.js'
import { PAGE_SIZE } from './memory.js'
import { applyRelocateAdd, type RelocMessage } from './relocate.js'

export interface LoadedObject {
  /** Address of every named defined symbol. */
  symbols: Map<string, bigint>
  /** Load address of every allocated section, by name. */
  sections: Map<string, bigint>
}

/** Thrown when the object cannot be loaded (unresolved symbol, relocation refused). */
export class LoadError extends Error {
  constructor(
    message: string,
    readonly messages: RelocMessage[] = [],
  ) {
    super(message)
    this.name = 'LoadError'
  }
}

/**
 * Loads `bytes` (an ET_REL object) at `base`: executable sections (mapped rx), read-only data (r),
 * writable data (rw), each group on its own pages. `resolve` gives the address of an undefined symbol.
 *
 * @example const obj = loadObject(cpu, await readFile('t.o'), 0xffffffffc0000000n, (n) => hosts.get(n))
 */
export function loadObject(cpu: Cpu, bytes: Uint8Array, base: bigint, resolve: (name: string) => bigint | undefined, module = 'test'): LoadedObject {
  const elf = readElf(bytes)
  const addr = new Map<number, bigint>()
  const sections = new Map<string, bigint>()
  const alloc = elf.sections.filter((s) => (s.flags & SHF_ALLOC) !== 0n && s.size > 0)
  const text = alloc.filter((s) => (s.flags & SHF_EXECINSTR) !== 0n)
  const rodata = alloc.filter((s) => (s.flags & (SHF_EXECINSTR | SHF_WRITE)) === 0n)
  const data = alloc.filter((s) => (s.flags & SHF_EXECINSTR) === 0n && (s.flags & SHF_WRITE) !== 0n)
  let cur = base
  const place = (list: typeof alloc): void => {
    for (const s of list) {
      const align = BigInt(Math.max(1, s.addralign))
      cur = ((cur + align - 1n) / align) * align
      addr.set(s.index, cur)
      sections.set(s.name, cur)
      cur += BigInt(s.size)
    }
  }
  const page = BigInt(PAGE_SIZE)
  const roundUp = (v: bigint): bigint => ((v + page - 1n) / page) * page
  // Text, read-only data and writable data on separate pages, as the kernel's module layout does.
  place(text)
  const textEnd = roundUp(cur)
  cur = textEnd
  place(rodata)
  const roEnd = roundUp(cur)
  cur = roEnd
  place(data)
  const end = roundUp(cur)
  cpu.memory.map(base, Number(end - base), 'rw')
  for (const s of alloc) if (s.type !== SHT_NOBITS) cpu.memory.write(addr.get(s.index)!, elf.sectionData(s))

  const values: bigint[] = []
  const symbols = new Map<string, bigint>()
  for (let i = 0; i < elf.symbolCount(); i++) {
    const raw = elf.symbolRaw(i)
    const name = elf.symbolName(i)
    if (i === 0) values.push(0n)
    else if (raw.shndx === 0) {
      const v = resolve(name)
      if (v === undefined) throw new LoadError(`${module}: Unknown symbol ${name}`)
      values.push(v)
    } else if (raw.shndx === 0xfff1) values.push(raw.value)
    else {
      const a = addr.get(raw.shndx)
      values.push(a === undefined ? raw.value : a + raw.value)
      if (a !== undefined && name) symbols.set(name, a + raw.value)
    }
  }
  for (const s of alloc) {
    const r = applyRelocateAdd({ module, sectionAddr: addr.get(s.index)!, relocs: elf.relocationsFor(s), symbolValue: (i) => values[i]!, target: cpu.memory })
    if (!r.ok) throw new LoadError(r.messages.map((m) => m.text).join('\n'), r.messages)
  }
  if (textEnd > base) cpu.memory.protect(base, Number(textEnd - base), 'rx')
  if (roEnd > textEnd) cpu.memory.protect(textEnd, Number(roEnd - textEnd), 'r')
  return { symbols, sections }
}

/** The release whose installed module tree the tree-wide tests read. */
export const TREE_RELEASE = '6.1.0-56-amd64'

/** Every .ko of the installed reference tree, sorted; a missing tree fails with what to install (never skipped). */
export function treeModules(): string[] {
  const tree = `/lib/modules/${TREE_RELEASE}/kernel`
  if (!existsSync(tree))
    throw new Error(`the reference module tree ${tree} is missing: run \`apt-get install linux-image-${TREE_RELEASE}\` (as root), then rerun the tests`)
  const out: string[] = []
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith('.ko')) out.push(p)
    }
  }
  walk(tree)
  return out.sort()
}
