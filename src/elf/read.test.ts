import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { readElf } from './read.js'
import { readModule } from './module.js'
import { embeddedBehaviour } from './behaviour.js'
import { ElfError } from './types.js'

const ko = readFileSync(new URL('../../fixtures/hello/hello_api.ko', import.meta.url))

function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    if (e instanceof ElfError) return e.code
    throw e
  }
  return 'ok'
}

function patched(edit: (b: Uint8Array, v: DataView) => void): Uint8Array {
  const b = new Uint8Array(ko)
  edit(b, new DataView(b.buffer))
  return b
}

describe('readElf', () => {
  it('reads the section headers and names of a real .ko', () => {
    const elf = readElf(ko)
    expect(elf.sections[0]?.type).toBe(0)
    expect(elf.sectionByName('.gnu.linkonce.this_module')?.size).toBe(0x380)
    expect(elf.sectionByName('.modinfo')?.type).toBe(1)
    expect(elf.symtab?.name).toBe('.symtab')
    expect(elf.symbols().find((s) => s.name === 'init_module')?.type).toBe(2)
  })

  it('rejects what is not ELF with not-elf', () => {
    expect(codeOf(() => readElf(new Uint8Array()))).toBe('not-elf')
    expect(codeOf(() => readElf(new TextEncoder().encode('obj-m += hello.o\n')))).toBe('not-elf')
    expect(codeOf(() => readElf(new Uint8Array([0x7f, 0x45])))).toBe('not-elf')
    expect(() => readElf(new Uint8Array())).toThrow(/not an ELF file: the file is empty/)
    expect(() => readElf(gzipSync(ko))).toThrow(/gzip-compressed .*decompress it first/)
  })

  it('rejects 32-bit, big-endian, other machines and non-ET_REL with unsupported', () => {
    expect(() => readElf(patched((b) => (b[4] = 1)))).toThrow(/ELFCLASS32/)
    expect(() => readElf(patched((b) => (b[5] = 2)))).toThrow(/big-endian/)
    expect(() => readElf(patched((_, v) => v.setUint16(18, 183, true)))).toThrow(/machine 183 is not x86-64/)
    expect(() => readElf(patched((_, v) => v.setUint16(16, 3, true)))).toThrow(/ET_DYN/)
    expect(codeOf(() => readElf(patched((_, v) => v.setUint16(16, 2, true))))).toBe('unsupported')
  })

  it('reports truncation of the header, the section table and a section body', () => {
    expect(codeOf(() => readElf(ko.subarray(0, 40)))).toBe('truncated')
    expect(() => readElf(ko.subarray(0, ko.length - 100))).toThrow(/section header table/)
    // Point .modinfo beyond the end of the file.
    const elf = readElf(ko)
    const shoff = Number(new DataView(ko.buffer, ko.byteOffset).getBigUint64(40, true))
    const idx = elf.sectionByName('.modinfo')!.index
    expect(() => readElf(patched((_, v) => v.setBigUint64(shoff + idx * 64 + 24, BigInt(ko.length), true)))).toThrow(/section \d+ .*beyond the end/)
  })

  it('reports malformed tables', () => {
    const shoff = Number(new DataView(ko.buffer, ko.byteOffset).getBigUint64(40, true))
    expect(codeOf(() => readElf(patched((_, v) => v.setUint16(58, 40, true))))).toBe('malformed')
    expect(codeOf(() => readElf(patched((_, v) => v.setUint16(62, 999, true))))).toBe('malformed')
    const symtab = readElf(ko).symtab!.index
    expect(() => readElf(patched((_, v) => v.setBigUint64(shoff + symtab * 64 + 56, 20n, true)))).toThrow(/symbol table entry size/)
  })

  it('only ever throws ElfError on random truncations and byte flips (fuzz)', () => {
    // A fixed-seed generator keeps failures reproducible.
    let seed = 0x2545f491
    const rand = (n: number): number => {
      seed ^= seed << 13
      seed ^= seed >>> 17
      seed ^= seed << 5
      return (seed >>> 0) % n
    }
    const readElfAll = (b: Uint8Array): void => {
      const info = readModule(b)
      void info.symbols
      embeddedBehaviour(readElf(b))
    }
    let elfErrors = 0
    for (let i = 0; i < 300; i++) {
      const b = new Uint8Array(ko.subarray(0, i < 100 ? rand(ko.length) : ko.length))
      // Flip bytes mostly in the headers and tables, where damage matters.
      const flips = i < 100 ? 0 : 1 + rand(8)
      for (let k = 0; k < flips; k++) {
        const hot = rand(2) === 0
        const at = hot ? rand(64) : rand(b.length)
        b[at] = rand(256)
      }
      if (i % 3 === 0) {
        // Hit the section header table directly.
        const shoff = Number(new DataView(ko.buffer, ko.byteOffset).getBigUint64(40, true))
        for (let k = 0; k < 4; k++) {
          const at = shoff + rand(readElf(ko).sections.length * 64)
          if (at < b.length) b[at] = rand(256)
        }
      }
      try {
        readElfAll(b)
      } catch (e) {
        if (!(e instanceof ElfError)) throw new Error(`case ${i}: ${String(e)}`, { cause: e })
        elfErrors++
      }
    }
    expect(elfErrors).toBeGreaterThan(100)
  })
})
