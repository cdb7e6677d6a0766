// Corrupted modules through the simulated loader: the kernel's refusal where 6.1 refuses, a load
// where it does not look, and never a JavaScript exception (the cases issue 14's fuzzer found).
import { Buffer } from 'node:buffer'
import { readFileSync } from 'node:fs'
import { beforeAll, describe, expect, test } from 'vitest'
import { readElf } from '../../elf/read.js'
import { buildSyntheticModule } from '../../elf/write.js'
import { loadEmbeddedProfile } from '../../profile/index.js'
import type { KernelProfile } from '../../profile/types.js'
import { SimKernelFault } from './exec.js'
import { align } from './layout.js'
import { createSimKernel } from './index.js'
import type { ModuleBehaviour } from './types.js'

let profile: KernelProfile
beforeAll(async () => {
  profile = await loadEmbeddedProfile()
})

const hello = () => new Uint8Array(readFileSync('fixtures/hello/hello_api.ko'))

/** Offset of a section header field in `bytes` (ELF64). */
function shdrField(bytes: Uint8Array, name: string, field: number): number {
  const elf = readElf(bytes)
  const s = elf.sections.find((x) => x.name === name)!
  const v = new DataView(bytes.buffer, bytes.byteOffset)
  return Number(v.getBigUint64(40, true)) + s.index * 64 + field
}

function load(bytes: Uint8Array): { ret: number; log: string[]; modules: string } {
  const k = createSimKernel({ profile })
  const ret = k.finitModule(bytes, '', 0)
  return { ret, log: k.log.since(0).map((r) => r.text), modules: k.readFile('/proc/modules') ?? '' }
}

describe('what elf_validity_check() refuses, the loader refuses with -ENOEXEC and its line', () => {
  test('section headers past the end', () => {
    const b = hello()
    new DataView(b.buffer).setBigUint64(40, 0xfffffffffffff000n, true)
    expect(load(b)).toMatchObject({ ret: -8, log: ['Invalid ELF section header overflow'] })
  })
  test('a section whose sh_offset + sh_size overflows', () => {
    const b = hello()
    new DataView(b.buffer).setBigUint64(shdrField(b, '.text', 24), 0xffffffffffffffffn, true)
    const r = load(b)
    expect(r.ret).toBe(-8)
    expect(r.log[0]).toMatch(/^Invalid ELF section in module \(section \d+ type 1\)$/)
  })
})

describe('what 6.1 does not check loads, and nothing throws', () => {
  test('EI_CLASS says 32-bit on a 64-bit x86-64 module: elf_check_arch() looks at e_machine only', () => {
    const b = hello()
    b[4] = 1
    expect(load(b).ret).toBe(0)
  })
  test('the symbol table with a wrong sh_entsize (the kernel uses sizeof(Elf64_Sym))', () => {
    const b = hello()
    new DataView(b.buffer).setBigUint64(shdrField(b, '.symtab', 56), 7n, true)
    expect(load(b).ret).toBe(0)
  })
  test('a symbol name past the string table', () => {
    const b = hello()
    const elf = readElf(b)
    const local = [...Array(elf.symbolCount()).keys()].find((i) => i > 0 && elf.symbolShndx(i) !== 0 && elf.symbolNameOff(i) !== 0)!
    new DataView(b.buffer).setUint32(elf.symtab!.offset + local * 24, 0x7fffffff, true)
    expect(() => load(b)).not.toThrow()
  })
  test('relocation sections with a bad sh_entsize, a bad sh_link and symbol indexes past the table', () => {
    const b = hello()
    const elf = readElf(b)
    const v = new DataView(b.buffer)
    for (const s of elf.sections.filter((x) => x.type === 4)) {
      const h = Number(v.getBigUint64(40, true)) + s.index * 64
      v.setUint32(h + 40, 0, true)
      v.setBigUint64(h + 56, 0x8000000000000000n, true)
      if (s.size >= 24) v.setUint32(s.offset + 12, 0xffffffff, true)
    }
    expect(() => load(b)).not.toThrow()
    expect(load(b).ret).toBe(0)
  })
  // The five cases below were run on the 6.1.0-56 VM (kmodspec sh --backend qemu): each loaded and
  // printed "[hello_api] Hello, World!", except e_shentsize 40 ("Invalid ELF section header size").
  test('sh_addralign 2^63 on .text, the first section laid out: ALIGN(0, a) is 0, it loads', () => {
    const b = hello()
    new DataView(b.buffer).setBigUint64(shdrField(b, '.text', 48), 0x8000000000000000n, true)
    const r = load(b)
    expect(r.ret).toBe(0)
    expect(r.log).toContain('[hello_api] Hello, World!')
  })
  test('e_shentsize 40', () => {
    const b = hello()
    new DataView(b.buffer).setUint16(58, 40, true)
    expect(load(b)).toMatchObject({ ret: -8, log: ['Invalid ELF section header size'] })
  })
  test('sh_flags past 2^53 keep their SHF_ALLOC bit', () => {
    const b = hello()
    new DataView(b.buffer).setBigUint64(shdrField(b, '.text', 8), 0xfff0000000000006n, true)
    expect(load(b).ret).toBe(0)
  })
})

describe("module_get_offset()'s ALIGN() on an unsigned int size", () => {
  test('32-bit arithmetic for any sh_addralign: a low word of 0 aligns to 0, as the kernel computes it', () => {
    expect([align(0, 2 ** 32), align(0x1234, 2 ** 32), align(5, 8), align(8, 8), align(5, 6), align(0xfffffff0, 0x100)]).toEqual([0, 0, 8, 8, 10, 0])
  })
})

describe('a behaviour model read from the file is untrusted JSON', () => {
  const base = { name: 'model_bad', license: 'GPL', vermagic: '' }
  test('actions that are not a list, a result that is not a number: the loader falls back and loads', () => {
    const behaviour: ModuleBehaviour = { init: { actions: [], returns: 0 }, functions: { f: [] } }
    const good = buildSyntheticModule({ ...base, vermagic: profile.vermagic, behaviour })
    // Same length, wrong shape: what a corrupted file can hold.
    const text = Buffer.from(good).toString('latin1').replace('"actions":[]', '"actions":77').replace('"f":[]', '"f":55')
    const bytes = new Uint8Array(Buffer.from(text, 'latin1'))
    expect(bytes.length).toBe(good.length)
    expect(text).toContain('"actions":77')
    const r = load(bytes)
    expect(r.ret).toBe(0)
    expect(r.modules).toMatch(/^model_bad /)
  })
  test('a function that calls itself oopses like a stack overflow; the module stays Loading', () => {
    const behaviour: ModuleBehaviour = { init: { actions: [{ call: 'again' }], returns: 0 }, functions: { again: [{ call: 'again' }] } }
    const bytes = buildSyntheticModule({ ...base, name: 'model_deep', vermagic: profile.vermagic, behaviour, exports: [{ name: 'again', gpl: false }] })
    const k = createSimKernel({ profile })
    let fault: unknown
    try {
      k.finitModule(bytes, '', 0)
    } catch (e) {
      fault = e
    }
    expect(fault).toBeInstanceOf(SimKernelFault)
    expect((fault as SimKernelFault).kind).toBe('oops')
    expect(k.log.since(0).map((r) => r.text)).toContain('BUG: TASK stack guard page was hit at 0000000000000000 (stack is 0000000000000000..0000000000000000)')
    expect(k.readFile('/proc/modules')).toMatch(/^model_deep \d+ \d+ .*Loading /)
    expect(k.takeNotes().join('\n')).toContain('not simulated')
  })
  test('a model that never ends without recursing deeply gets the soft-lockup report', () => {
    const wide = Array.from({ length: 400 }, () => ({ call: 'b' }))
    const behaviour: ModuleBehaviour = {
      init: { actions: [{ call: 'a' }], returns: 0 },
      functions: { a: wide, b: wide.map(() => ({ call: 'c' })), c: [{ print: '\u00016x\n' }] },
    }
    const bytes = buildSyntheticModule({
      ...base,
      name: 'model_wide',
      vermagic: profile.vermagic,
      behaviour,
      exports: ['a', 'b', 'c'].map((name) => ({ name, gpl: false })),
    })
    const k = createSimKernel({ profile })
    const started = performance.now()
    expect(() => k.finitModule(bytes, '', 0)).toThrow(SimKernelFault)
    expect(performance.now() - started).toBeLessThan(5000)
    expect(k.log.since(0).map((r) => r.text)).toContain('watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [insmod:1]')
  })
})
