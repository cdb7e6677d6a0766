// Untrusted bytes: every reader either returns or throws the typed ElfError (or, for libkmod's
// model, returns an errno or the assertion kmod aborts on). Nothing else escapes, and no field
// comes back as Infinity or NaN.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { caseRandom, mutate } from '../sim/fuzz/mutate.js'
import { embeddedBehaviour } from './behaviour.js'
import { KmodAbort, KmodElf, kmodDepmodLoad, kmodElfNew } from './kmod.js'
import { moduleFromElf } from './module.js'
import { readElf } from './read.js'
import { ElfError } from './types.js'

const bases = ['hello/hello_api.ko', 'hello/hello_feature.ko', 'errors/params.ko', 'refcount/refget.ko', 'printk/printk_formats.ko']
  .filter((f) => readdirSync(join('fixtures', f.split('/')[0]!)).includes(f.split('/')[1]!))
  .map((f) => new Uint8Array(readFileSync(join('fixtures', f))))

const finite = (o: Record<string, unknown>) => Object.values(o).every((v) => typeof v !== 'number' || Number.isFinite(v))

test('1000 mutants through readElf, moduleFromElf, embeddedBehaviour (both modes) and the libkmod model', () => {
  const escaped: string[] = []
  for (let i = 0; i < 1000; i++) {
    const rand = caseRandom(1401, i)
    const { bytes, how } = mutate(bases[rand() % bases.length]!, rand)
    for (const kernel of [false, true]) {
      try {
        const elf = readElf(bytes, { kernel })
        for (const s of elf.sections)
          if (!finite(s as unknown as Record<string, unknown>)) escaped.push(`case ${i}: section ${s.index} has a non-finite field (${how.join('; ')})`)
        const info = moduleFromElf(elf, { kernel })
        void info.symbols
        for (const s of elf.sections)
          for (const r of elf.relocationsFor(s))
            if (!finite(r as unknown as Record<string, unknown>)) escaped.push(`case ${i}: relocation with a non-finite field`)
        embeddedBehaviour(elf)
      } catch (e) {
        if (!(e instanceof ElfError)) escaped.push(`case ${i} (kernel ${kernel}; ${how.join('; ')}): ${(e as Error).stack ?? String(e)}`)
      }
    }
    try {
      const elf = kmodElfNew(bytes)
      if (elf instanceof KmodElf) {
        elf.strings('.modinfo')
        elf.symbols()
        elf.dependencySymbols()
      } else expect(typeof elf === 'number' || elf instanceof KmodAbort).toBe(true)
      kmodDepmodLoad(bytes)
    } catch (e) {
      escaped.push(`case ${i} (libkmod model; ${how.join('; ')}): ${(e as Error).stack ?? String(e)}`)
    }
  }
  expect(escaped.slice(0, 5).join('\n')).toBe('')
}, 60_000)
