import type { ElfFile } from '../../elf/read.js'
import type { BehaviourAction, ModuleBehaviour } from './types.js'

const TARGETS = new Set(['__symbol_get', '__symbol_put'])
const R_X86_64_64 = 1
const R_X86_64_PC32 = 2
const R_X86_64_PLT32 = 4
const R_X86_64_32 = 10
const R_X86_64_32S = 11

/**
 * symbol_get(x)/symbol_put(x) pass the name "x" as a string: when the behaviour model
 * left that argument out, take it from the string the code loads just before each call
 * (the relocation into .rodata.str* that precedes the call's own relocation).
 */
export function fillSymbolGetArgs(elf: ElfFile, b: ModuleBehaviour): void {
  const lists: Array<[string, BehaviourAction[] | undefined]> = [
    ['init_module', b.init?.actions], ['cleanup_module', b.exit?.actions], ...Object.entries(b.functions),
  ]
  const missing = (a: BehaviourAction) => 'call' in a && TARGETS.has(a.call) && a.arg === undefined
  if (!lists.some(([, acts]) => acts?.some(missing))) return
  const syms = elf.symbols()
  for (const [fn, acts] of lists) {
    if (!acts?.some(missing)) continue
    const f = syms.find((s) => s.name === fn && s.type === 2 && s.shndx > 0 && s.shndx < elf.sections.length)
    if (!f) continue
    const start = Number(f.value)
    const relocs = elf.relocationsFor(elf.sections[f.shndx]).filter((r) => r.offset >= start && r.offset < start + f.size).sort((x, y) => x.offset - y.offset)
    const args: string[] = []
    let last: string | undefined
    for (const r of relocs) {
      const raw = elf.symbolRaw(r.sym)
      if ((r.type === R_X86_64_PLT32 || r.type === R_X86_64_PC32) && raw.shndx === 0) {
        if (TARGETS.has(elf.symbolName(r.sym))) args.push(last ?? '')
        last = undefined
        continue
      }
      const sec = raw.shndx > 0 && raw.shndx < elf.sections.length ? elf.sections[raw.shndx] : undefined
      if (!sec?.name.startsWith('.rodata.str')) continue
      let off = Number(raw.value) + r.addend
      if (r.type === R_X86_64_PC32) off += 4
      else if (r.type !== R_X86_64_32 && r.type !== R_X86_64_32S && r.type !== R_X86_64_64) continue
      if (off >= 0 && off < sec.size) last = elf.stringAt(sec, off)
    }
    let i = 0
    for (const a of acts) {
      if ('call' in a && TARGETS.has(a.call)) {
        const arg = args[i++]
        if (a.arg === undefined && arg) a.arg = arg
      }
    }
  }
}
