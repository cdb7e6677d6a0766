import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { deriveBehaviour } from './behaviour.js'
import { readModule } from './module.js'
import { readElf } from './read.js'
import { decodeInsn } from './x86.js'

const fixtures = new URL('../../fixtures/', import.meta.url).pathname
const load = (rel: string) => {
  const bytes = readFileSync(join(fixtures, rel))
  return deriveBehaviour(bytes, readModule(bytes))
}

describe('deriveBehaviour on the fixture modules', () => {
  it('hello_api: init and exit print, api_test prints, init returns 0', () => {
    expect(load('hello/hello_api.ko')).toEqual({
      init: { actions: [{ print: '\u00016[hello_api] Hello, World!\n' }], returns: 0 },
      exit: { actions: [{ print: '\u00016[hello_api] Bye bye, World!\n' }] },
      functions: { api_test: [{ print: '\u00016[hello_api] this is a test message.\n' }] },
    })
  })

  it("hello_feature: exit calls api_test before printing (the seed's order)", () => {
    const b = load('hello/hello_feature.ko')
    expect(b.exit?.actions).toEqual([{ call: 'api_test' }, { print: '\u00016[hello_feature] Bye Bye, World!\n' }])
    expect(b.unsure).toBeUndefined()
  })

  it('init_fail: init prints at KERN_ERR and returns -ENODEV', () => {
    const b = load('errors/init_fail.ko')
    expect(b.init).toEqual({ actions: [{ print: '\u00013[init_fail] init fails with -ENODEV\n' }], returns: -19 })
  })

  it('client_lkm calls both core_lkm exports in order; core_lkm models both exports', () => {
    const client = load('stacking/client/client_lkm.ko')
    expect(client.init?.actions.filter((a) => 'call' in a)).toEqual([{ call: 'core_greet' }, { call: 'core_gpl_greet' }])
    const core = load('stacking/core/core_lkm.ko')
    expect(Object.keys(core.functions).sort()).toEqual(['core_gpl_greet', 'core_greet'])
  })

  it('marks functions with conditional branches or BUG/WARN as unsure', () => {
    expect(load('crash/crash_hang.ko').unsure).toContain('init_module')
    expect(load('crash/crash_warn.ko').unsure).toContain('init_module')
  })

  it('returns the embedded behaviour of a synthetic module as is (see write.test.ts) and rejects bad JSON', async () => {
    const { buildSyntheticModule } = await import('./write.js')
    const behaviour = { init: { actions: [{ print: 'x' }], returns: -5 }, functions: {} }
    const ko = buildSyntheticModule({ name: 'm', vermagic: 'v', behaviour })
    expect(deriveBehaviour(ko, readModule(ko))).toEqual(behaviour)
    const broken = new Uint8Array(ko)
    const sec = readElf(broken).sectionByName('.kmodspec.behaviour')!
    broken[sec.offset] = 0x7d // '}' first: not JSON
    expect(() => deriveBehaviour(broken, readModule(broken))).toThrow(/\.kmodspec\.behaviour is not valid JSON/)
  })
})

describe('x86 decoder', () => {
  it('finds the same instruction boundaries as objdump in a real module', async () => {
    const file = '/lib/modules/6.1.0-56-amd64/kernel/drivers/block/null_blk/null_blk.ko'
    const elf = readElf(readFileSync(file))
    const { stdout } = await execa('objdump', ['-d', '-w', file])
    const starts = new Map<string, Set<number>>()
    let sec: Set<number> | undefined
    for (const line of stdout.split('\n')) {
      const h = /^Disassembly of section (.*):$/.exec(line)
      if (h) starts.set(h[1], (sec = new Set()))
      const m = /^\s+([0-9a-f]+):\t[0-9a-f ]+\t/.exec(line)
      if (m && sec) sec.add(parseInt(m[1], 16))
    }
    let checked = 0
    for (const s of elf.symbols()) {
      if (s.type !== 2 || s.shndx === 0 || s.shndx >= 0xff00) continue
      const section = elf.sections[s.shndx]
      const code = elf.sectionData(section)
      const want = starts.get(section.name)!
      for (let p = Number(s.value); p < Number(s.value) + s.size; ) {
        expect(want.has(p), `${s.name}+${p - Number(s.value)}`).toBe(true)
        const insn = decodeInsn(code, p, Number(s.value) + s.size)
        expect(insn, `${s.name}+${p - Number(s.value)}`).toBeDefined()
        p += insn!.length
        checked++
      }
    }
    expect(checked).toBeGreaterThan(5000)
  })
})
