import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { parseScript } from '../cli/script.js'
import { buildFixtures, fixturesRoot, truncatedLength } from './fixtures.js'
import { findSection } from './modinfo-patch.js'

const release = '6.1.0-56-amd64'

/** The CRC a module's __versions table records for a symbol (entries: u64 crc + 56-byte name). */
function versionCrc(elf: Buffer, symbol: string): number | undefined {
  const { offset, size } = findSection(elf, '__versions')!
  for (let at = offset; at < offset + size; at += 64) {
    const name = elf.toString('latin1', at + 8, at + 64).replace(/\0.*$/s, '')
    if (name === symbol) return Number(elf.readBigUInt64LE(at))
  }
  return undefined
}

function modinfo(elf: Buffer): string[] {
  const { offset, size } = findSection(elf, '.modinfo')!
  return elf
    .toString('latin1', offset, offset + size)
    .split('\0')
    .filter(Boolean)
}

function* files(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) yield* files(join(dir, entry.name))
    else yield join(dir, entry.name)
  }
}

describe(`buildFixtures for ${release}`, () => {
  let out: string
  let built: string[]

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'kmodspec-fixtures-test-'))
    built = await buildFixtures({ release, outDir: out, progress: false })
  })
  afterAll(async () => {
    await rm(out, { recursive: true, force: true })
  })

  test('rebuilds exactly the committed .ko files, byte for byte', async () => {
    // fixtures/real holds copies of the installed tree's modules (fixtures/real/*.sh), not modules the recipe builds.
    const committed = [...files(fixturesRoot)]
      .filter((f) => f.endsWith('.ko'))
      .map((f) => relative(fixturesRoot, f))
      .filter((f) => !f.startsWith('real/'))
    expect(built.map((f) => relative(out, f)).sort()).toEqual(committed.sort())
    for (const rel of committed) {
      expect(Buffer.compare(await readFile(join(out, rel)), await readFile(join(fixturesRoot, rel))), rel).toBe(0)
    }
    // Only .ko files land in the output: no kbuild litter, no symvers.
    expect([...files(out)].filter((f) => !f.endsWith('.ko'))).toEqual([])
  })

  test('breaks the error fixtures in the intended way', async () => {
    const ko = (rel: string) => readFile(join(out, rel))
    const feature = versionCrc(await ko('hello/hello_feature.ko'), 'api_test')!
    expect(versionCrc(await ko('errors/crc_mismatch.ko'), 'api_test')).toBe(~feature >>> 0)
    expect(versionCrc(await ko('errors/gpl_user.ko'), 'core_gpl_greet')).toBe(versionCrc(await ko('stacking/client/client_lkm.ko'), 'core_gpl_greet'))
    expect(modinfo(await ko('errors/gpl_user.ko'))).toEqual(expect.arrayContaining(['license=Proprietary', 'depends=core_lkm']))
    expect(modinfo(await ko('stacking/client/client_lkm.ko'))).toContain('depends=core_lkm')
    expect(modinfo(await ko('errors/bad_vermagic.ko')).find((e) => e.startsWith('vermagic='))).toBe(`vermagic=${release} SMP preempt mod_unl0ad modversions `)
    expect(await ko('errors/truncated.ko')).toEqual((await ko('hello/hello_api.ko')).subarray(0, truncatedLength))
    expect((await ko('errors/not_elf.ko')).subarray(0, 4).toString('latin1')).not.toBe('\x7fELF')
  })
})

describe('fixture scripts', () => {
  const scripts = join(fixturesRoot, 'scripts')
  const root = resolve(fixturesRoot, '..')

  test.each(readdirSync(scripts).filter((f) => f.endsWith('.sh')))('%s parses and names only fixtures that exist', (name) => {
    const commands = parseScript(readFileSync(join(scripts, name), 'utf8'))
    expect(commands.length).toBeGreaterThan(0)
    const named = commands.flatMap((c) => c.argv.filter((w) => w.startsWith('fixtures/')))
    const missing = named.filter((p) => !existsSync(join(root, p)) && !p.includes('no_such'))
    expect(missing).toEqual([])
  })
})
