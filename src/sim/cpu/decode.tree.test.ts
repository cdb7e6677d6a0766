// The decoder over every function of the installed 6.1 module tree: no unknown opcode in any
// module's .text*, except the explicitly listed vector/FPU opcodes (SSE/AVX/x87 in crypto and
// a few drivers' asm: out of scope for execution, decoded for length only). A sample of modules
// is also checked against objdump's instruction boundaries.
import { readFileSync } from 'node:fs'
import { execa } from 'execa'
import { expect, test } from 'vitest'
import { readElf, STT_FUNC, type ElfFile } from '../../elf/read.js'
import { Kind, decode } from './decode.js'
import { treeModules, TREE_RELEASE } from './testkit.js'

const TREE = `/lib/modules/${TREE_RELEASE}/kernel`

/** The vector/FPU opcode space the decoder may classify as VECTOR (SDM vol. 2, appendix A). */
function listedVector(opcode: number): boolean {
  const top = opcode >>> 16
  if (top === 0xc4 || top === 0xc5 || top === 0x62) return true // VEX / EVEX
  if (opcode >= 0x0f3800 && opcode <= 0x0f38ff) return true // SSSE3/SSE4/AES-NI/SHA (0f 38)
  if (opcode >= 0x0f3a00 && opcode <= 0x0f3aff) return true // SSE4/PCLMUL/AES (0f 3a)
  if (opcode >= 0xd8 && opcode <= 0xdf) return true // x87
  if (opcode === 0x9b) return true // fwait
  if (opcode < 0x0f00 || opcode > 0x0fff) return false
  const b = opcode & 0xff
  return (
    (b >= 0x10 && b <= 0x17) ||
    (b >= 0x28 && b <= 0x2f) ||
    (b >= 0x50 && b <= 0x7f) ||
    (b >= 0xd0 && b <= 0xfe) ||
    [0x0e, 0x0f, 0xc2, 0xc4, 0xc5, 0xc6].includes(b)
  )
}

/** Calls `visit` with every function symbol in a .text* section: name, section bytes, start, end. */
function eachFunction(elf: ElfFile, visit: (name: number, section: string, data: Uint8Array, start: number, end: number) => void): void {
  for (let i = 1; i < elf.symbolCount(); i++) {
    const r = elf.symbolRaw(i)
    if ((r.info & 0xf) !== STT_FUNC || r.size === 0 || r.shndx === 0 || r.shndx >= 0xff00) continue
    const sec = elf.sections[r.shndx]!
    if (!sec.name.startsWith('.text')) continue
    const data = elf.sectionData(sec)
    const start = Number(r.value)
    visit(i, sec.name, data, start, Math.min(start + r.size, data.length))
  }
}

test('every function of every module in the 6.1 tree decodes (vector/FPU opcodes only as listed)', () => {
  const files = treeModules()
  expect(files.length).toBeGreaterThan(3000)
  const unknown: string[] = []
  const unlisted: string[] = []
  const vectorModules = new Map<string, number>()
  let insns = 0
  for (const f of files) {
    const buf = readFileSync(f)
    const elf = readElf(new Uint8Array(buf.buffer, buf.byteOffset, buf.length))
    const mod = f.slice(TREE.length + 1)
    eachFunction(elf, (sym, _sec, data, start, end) => {
      for (let p = start; p < end;) {
        const d = decode(data, p, end, 0, 0)
        insns++
        if (d.kind === Kind.UNKNOWN) {
          const bytes = Buffer.from(data.subarray(p, Math.min(p + 8, end))).toString('hex')
          unknown.push(`${mod}: ${elf.symbolName(sym)}+0x${(p - start).toString(16)}: ${bytes}`)
          break
        }
        if (d.kind === Kind.VECTOR) {
          vectorModules.set(mod, (vectorModules.get(mod) ?? 0) + 1)
          if (!listedVector(d.opcode)) unlisted.push(`${mod}: ${elf.symbolName(sym)}+0x${(p - start).toString(16)}: opcode 0x${d.opcode.toString(16)}`)
        }
        p += d.len
      }
    })
  }
  console.log(
    `decoded ${insns} instructions in ${files.length} modules; ${vectorModules.size} modules contain vector/FPU code (not executed): ${[...vectorModules.keys()].slice(0, 12).join(', ')}, ...`,
  )
  expect(unknown.slice(0, 20)).toEqual([])
  expect(unlisted.slice(0, 20)).toEqual([])
  expect(insns).toBeGreaterThan(10_000_000)
}, 60_000)

test('instruction boundaries agree with objdump on a sample of modules', async () => {
  const all = treeModules()
  const sample = ['netconsole', 'padlock-aes', 'aesni-intel', 'chacha-x86_64', 'kvm-intel', 'e1000', 'kvm', 'ext4']
  const mismatches: string[] = []
  let checked = 0
  for (const name of sample) {
    const file = all.find((f) => f.endsWith(`/${name}.ko`))
    if (!file) throw new Error(`${name}.ko is missing from ${TREE}`)
    const { stdout } = await execa('objdump', ['-d', '--no-show-raw-insn', file])
    const bounds = new Map<string, Set<number>>()
    let cur: Set<number> | undefined
    for (const line of stdout.split('\n')) {
      const s = /^Disassembly of section (\S+):$/.exec(line)
      if (s) {
        cur = new Set()
        bounds.set(s[1]!, cur)
        continue
      }
      const m = /^\s+([0-9a-f]+):\t/.exec(line)
      if (m && cur) cur.add(parseInt(m[1]!, 16))
    }
    const buf = readFileSync(file)
    const elf = readElf(new Uint8Array(buf.buffer, buf.byteOffset, buf.length))
    eachFunction(elf, (sym, sec, data, start, end) => {
      const ok = bounds.get(sec)
      for (let p = start; p < end;) {
        if (!ok?.has(p)) {
          mismatches.push(`${name}: ${elf.symbolName(sym)}+0x${(p - start).toString(16)} (${sec}+0x${p.toString(16)}) is not an instruction start for objdump`)
          break
        }
        const d = decode(data, p, end, 0, 0)
        checked++
        if (d.len === 0) break
        p += d.len
      }
    })
  }
  expect(mismatches.slice(0, 10)).toEqual([])
  expect(checked).toBeGreaterThan(300_000)
}, 60_000)
