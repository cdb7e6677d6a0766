import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { fixturesRoot } from './fixtures.js'
import { findSection, patchModinfo } from './modinfo-patch.js'

const ko = () => readFile(join(fixturesRoot, 'hello', 'hello_api.ko'))

describe('patchModinfo', () => {
  test('rewrites only the vermagic entry inside .modinfo, keeping the length', async () => {
    const before = await ko()
    const after = patchModinfo(before, 'vermagic', 'mod_unload', 'mod_unl0ad')
    expect(after.length).toBe(before.length)
    const section = findSection(before, '.modinfo')!
    const changed = [...after.keys()].filter((i) => after[i] !== before[i])
    expect(changed).toHaveLength(1)
    expect(changed[0]).toBeGreaterThanOrEqual(section.offset)
    expect(changed[0]).toBeLessThan(section.offset + section.size)
    const modinfo = Buffer.from(after.subarray(section.offset, section.offset + section.size)).toString('latin1')
    expect(modinfo).toMatch(/\0vermagic=\S+ SMP preempt mod_unl0ad modversions \0/)
    expect(Buffer.from(before).toString('latin1')).not.toContain('mod_unl0ad')
  })

  test('refuses edits that would move bytes, and missing keys or text', async () => {
    const elf = await ko()
    expect(() => patchModinfo(elf, 'vermagic', 'mod_unload', 'x')).toThrow('differ in length')
    expect(() => patchModinfo(elf, 'nokey', 'a', 'b')).toThrow("the module's .modinfo has no nokey= entry")
    expect(() => patchModinfo(elf, 'license', 'MIT', 'BSD')).toThrow(".modinfo license=GPL does not contain 'MIT'")
  })

  test('rejects files that are not ELF64 or are cut short', async () => {
    expect(() => findSection(Buffer.from('not an elf file at all, but long enough to have a header........'), '.modinfo')).toThrow(
      'not an ELF64 little-endian file',
    )
    const truncated = (await ko()).subarray(0, 1000)
    expect(() => findSection(truncated, '.modinfo')).toThrow('section headers lie outside the file')
  })
})
