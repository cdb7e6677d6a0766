import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { embeddedBehaviour } from './behaviour.js'
import { readElf } from './read.js'
import { buildSyntheticModule } from './write.js'

describe('embeddedBehaviour', () => {
  it('returns a defineModule() model as written, and nothing for a real module (its code runs instead)', () => {
    const behaviour = { init: { actions: [{ print: 'x' }], returns: -5 }, functions: {} }
    const ko = buildSyntheticModule({ name: 'm', vermagic: 'v', behaviour })
    expect(embeddedBehaviour(readElf(ko))).toEqual(behaviour)
    const real = readFileSync(new URL('../../fixtures/hello/hello_api.ko', import.meta.url))
    expect(embeddedBehaviour(readElf(real))).toBeUndefined()
  })

  it('rejects a section that is not JSON, or not a behaviour', () => {
    const ko = buildSyntheticModule({ name: 'm', vermagic: 'v', behaviour: { init: { actions: [], returns: 0 }, functions: {} } })
    const broken = new Uint8Array(ko)
    const sec = readElf(broken).sectionByName('.kmodspec.behaviour')!
    broken[sec.offset] = 0x7d // '}' first: not JSON
    expect(() => embeddedBehaviour(readElf(broken))).toThrow(/\.kmodspec\.behaviour is not valid JSON/)
  })
})
