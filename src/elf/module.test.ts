import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { withDir, withFile } from 'tmp-promise'
import { describe, expect, it } from 'vitest'
import { kmodExportedSymbols, modinfoDepends, modinfoParams, modinfoValue, modinfoValues, readModule } from './module.js'
import { readElf } from './read.js'
import { buildSyntheticModule } from './write.js'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { ElfError } from './types.js'

const fixtures = new URL('../../fixtures/', import.meta.url).pathname
const RELEASE = '6.1.0-56-amd64'
const tree = `/lib/modules/${RELEASE}/kernel`
const symvers = `/lib/modules/${RELEASE}/build/Module.symvers`

/** What kmod, binutils and the kernel build say about a .ko: the judges. */
async function realFacts(file: string) {
  const field = async (f: string) => {
    const { stdout } = await execa('modinfo', ['-F', f, file])
    return stdout === '' ? [] : stdout.split('\n')
  }
  const { stdout: sections } = await execa('readelf', ['-SW', file])
  const secName = new Map<number, string>()
  for (const m of sections.matchAll(/^\s*\[\s*(\d+)\]\s+(\S+)/gm)) secName.set(Number(m[1]), m[2]!)
  const { stdout: syms } = await execa('readelf', ['-sW', file])
  // Every group takes part in a match.
  const rows = [...syms.matchAll(/^\s*\d+:\s+([0-9a-f]+)\s+\d+\s+(\w+)\s+(\w+)\s+\w+\s+(\w+)\s+(\S+)$/gm)].map((m) => ({
    value: parseInt(m[1]!, 16),
    type: m[2]!,
    ndx: m[4]!,
    name: m[5]!,
  }))
  const ksym = rows
    .filter((r) => r.type === 'NOTYPE' && r.name.startsWith('__ksymtab_') && /^__ksymtab(_gpl)?$/.test(secName.get(Number(r.ndx)) ?? ''))
    .sort((a, b) => Number(a.ndx) - Number(b.ndx) || a.value - b.value)
  const { stdout: versions } = await execa('modprobe', ['--dump-modversions', file], { reject: false })
  const raw = await withFile(async ({ path }) => {
    await execa('objcopy', ['-O', 'binary', '--only-section=.modinfo', file, path])
    return readFileSync(path)
  })
  return {
    name: await field('name'),
    vermagic: await field('vermagic'),
    depends: await field('depends'),
    alias: await field('alias'),
    license: await field('license'),
    rawModinfo: raw
      .toString('utf8')
      .split('\0')
      .filter((s) => s !== ''),
    exports: ksym.map((r) => ({ name: r.name.slice('__ksymtab_'.length), gpl: secName.get(Number(r.ndx)) === '__ksymtab_gpl' })),
    imports: rows.filter((r) => r.ndx === 'UND' && r.name !== '').map((r) => r.name),
    versions:
      versions === ''
        ? []
        : versions
            .split('\n')
            .map((l) => l.split('\t'))
            .map(([crc = '', name]) => ({ crc: parseInt(crc, 16), name })),
  }
}

async function expectAgrees(file: string) {
  const info = readModule(readFileSync(file))
  const real = await realFacts(file)
  expect([info.name]).toEqual(real.name)
  expect(modinfoValues(info, 'vermagic')).toEqual(real.vermagic)
  // kmod prints depends= as one line, as written.
  expect(modinfoValues(info, 'depends')).toEqual(real.depends.length ? real.depends : [''])
  expect(modinfoValues(info, 'alias')).toEqual(real.alias)
  expect(modinfoValues(info, 'license')).toEqual(real.license)
  expect(info.modinfo.map((e) => `${e.key}=${e.value}`)).toEqual(real.rawModinfo)
  expect(info.exports.map(({ name, gpl }) => ({ name, gpl }))).toEqual(real.exports)
  expect(info.imports).toEqual(real.imports)
  expect(info.versions).toEqual(real.versions)
  return info
}

describe('readModule on the fixture modules', () => {
  it('reads hello_api as kmod and readelf do', async () => {
    const info = await expectAgrees(join(fixtures, 'hello/hello_api.ko'))
    expect(info.name).toBe('hello_api')
    expect(info.exports).toMatchObject([{ name: 'api_test', gpl: false }])
    expect(info.hasInit).toBe(true)
    expect(info.hasExit).toBe(true)
    expect(modinfoDepends(info)).toEqual([])
  })

  it('reads hello_feature: depends on hello_api, imports api_test with its CRC', async () => {
    const info = await expectAgrees(join(fixtures, 'hello/hello_feature.ko'))
    expect(modinfoDepends(info)).toEqual(['hello_api'])
    expect(info.imports).toContain('api_test')
    const api = readModule(readFileSync(join(fixtures, 'hello/hello_api.ko')))
    // The CRC hello_feature was built against is the one hello_api's __kcrctab carries.
    expect(info.versions.find((v) => v.name === 'api_test')?.crc).toBe(api.exports[0]!.crc)
  })

  it('reads GPL and plain exports of core_lkm, and parameters of params', async () => {
    const core = await expectAgrees(join(fixtures, 'stacking/core/core_lkm.ko'))
    expect(core.exports.map((e) => `${e.name}:${e.gpl}`).sort()).toEqual(['core_gpl_greet:true', 'core_greet:false'])
    const params = await expectAgrees(join(fixtures, 'errors/params.ko'))
    expect(modinfoParams(params).length).toBeGreaterThan(0)
    for (const p of modinfoParams(params)) expect(p.type).toBeTruthy()
  })

  it('rejects the not_elf and truncated fixtures with precise codes', () => {
    const code = (f: string) => {
      try {
        readModule(readFileSync(join(fixtures, f)))
        return 'ok'
      } catch (e) {
        return e instanceof ElfError ? e.code : String(e)
      }
    }
    expect(code('errors/not_elf.ko')).toBe('not-elf')
    expect(code('errors/truncated.ko')).toBe('truncated')
  })
})

describe('readModule on in-tree modules of the installed kernel', () => {
  it(`finds ${tree}`, () => {
    expect(existsSync(tree), `${tree} is missing: apt-get install linux-image-${RELEASE}`).toBe(true)
  })

  for (const rel of ['drivers/usb/core/usbcore.ko', 'drivers/block/null_blk/null_blk.ko', 'sound/core/snd-pcm.ko', 'net/netfilter/nf_conntrack.ko']) {
    it(`agrees with modinfo, readelf and modprobe --dump-modversions on ${rel}`, async () => {
      const info = await expectAgrees(join(tree, rel))
      expect(modinfoValue(info, 'intree')).toBe('Y')
    })
  }

  it('reads export CRCs that match Module.symvers', () => {
    const info = readModule(readFileSync(join(tree, 'drivers/usb/core/usbcore.ko')))
    const want = new Map<string, number>()
    for (const line of readFileSync(symvers, 'utf8').split('\n')) {
      const [crc = '', name = '', mod] = line.split('\t')
      if (mod === 'drivers/usb/core/usbcore') want.set(name, parseInt(crc, 16))
    }
    expect(info.exports.length).toBe(want.size)
    for (const e of info.exports) expect(e.crc, e.name).toBe(want.get(e.name))
  })

  it('reads every in-tree .ko without throwing', () => {
    const files: string[] = []
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name))
        else if (e.name.endsWith('.ko')) files.push(join(d, e.name))
      }
    }
    walk(tree)
    expect(files.length).toBeGreaterThan(4000)
    let named = 0
    for (const f of files) if (readModule(readFileSync(f)).name !== '') named++
    expect(named).toBe(files.length)
  })
})

describe('kmodExportedSymbols', () => {
  it("lists what kmod's depmod writes to modules.symbols, for built and synthetic modules", async () => {
    await withDir(
      async ({ path }) => {
        const dir = join(path, 'lib/modules', RELEASE, 'extra')
        await mkdir(dir, { recursive: true })
        const files: Record<string, Uint8Array> = {
          hello_api: readFileSync(join(fixtures, 'hello/hello_api.ko')),
          core_lkm: readFileSync(join(fixtures, 'stacking/core/core_lkm.ko')),
          synth_crc: buildSyntheticModule({
            name: 'synth_crc',
            vermagic: 'v',
            exports: [
              { name: 'sc_a', gpl: false, crc: 1 },
              { name: 'sc_b', gpl: true, crc: 2 },
            ],
            behaviour: { functions: {} },
          }),
          synth_plain: buildSyntheticModule({ name: 'synth_plain', vermagic: 'v', exports: [{ name: 'sp_a', gpl: true }], behaviour: { functions: {} } }),
        }
        for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, `${name}.ko`), bytes)
        await execa('depmod', ['-b', path, RELEASE])
        const text = await readFile(join(path, 'lib/modules', RELEASE, 'modules.symbols'), 'utf8')
        const real = text
          .split('\n')
          .filter((l) => l.startsWith('alias symbol:'))
          .map((l) => l.slice('alias symbol:'.length))
          .sort()
        const ours = Object.entries(files)
          .flatMap(([name, bytes]) => kmodExportedSymbols(readElf(bytes)).map((s) => `${s} ${name}`))
          .sort()
        expect(ours).toEqual(real)
        expect(real.length).toBe(6) // api_test, core_greet, core_gpl_greet, sc_a, sc_b, sp_a
      },
      { unsafeCleanup: true },
    )
  })
})
