import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import { withDir } from 'tmp-promise'
import { describe, expect, it } from 'vitest'
import { embeddedBehaviour } from './behaviour.js'
import { readElf } from './read.js'
import { readModule } from './module.js'
import { buildSyntheticModule, type SyntheticModuleSpec } from './write.js'

const VERMAGIC = '6.1.0-56-amd64 SMP preempt mod_unload modversions '

const spec: SyntheticModuleSpec = {
  name: 'synth_mod',
  license: 'GPL',
  modinfo: [
    { key: 'author', value: 'kmodspec' },
    { key: 'description', value: 'A module with no binary' },
    { key: 'alias', value: 'pci:v00001234d*sv*sd*bc*sc*i*' },
    { key: 'softdep', value: 'pre: hello_api' },
    { key: 'parm', value: 'level:how loud' },
    { key: 'parmtype', value: 'level:int' },
  ],
  depends: ['hello_api', 'core_lkm'],
  vermagic: VERMAGIC,
  exports: [
    { name: 'synth_plain', gpl: false, crc: 0x12345678 },
    { name: 'synth_gpl', gpl: true, crc: 0xdeadbeef },
  ],
  imports: ['api_test', 'core_gpl_greet', '_printk'],
  versions: [
    { name: 'api_test', crc: 0xa83d4555 },
    { name: 'module_layout', crc: 0x9060323f },
  ],
  behaviour: {
    init: { actions: [{ print: '\u00016[synth] hi\n' }, { call: 'api_test' }], returns: -12 },
    exit: { actions: [{ print: '\u00016[synth] bye\n' }] },
    functions: { synth_plain: [{ call: 'core_gpl_greet' }], synth_gpl: [] },
  },
  textSize: 4096,
}

describe('buildSyntheticModule', () => {
  it('round-trips through readModule and embeddedBehaviour', () => {
    const ko = buildSyntheticModule(spec)
    const info = readModule(ko)
    expect(info.name).toBe('synth_mod')
    expect(info.modinfo).toEqual([
      { key: 'license', value: 'GPL' },
      ...spec.modinfo!,
      { key: 'depends', value: 'hello_api,core_lkm' },
      { key: 'name', value: 'synth_mod' },
      { key: 'vermagic', value: VERMAGIC },
    ])
    expect(info.exports).toEqual(spec.exports)
    expect(info.imports).toEqual(spec.imports)
    expect(info.versions).toEqual(spec.versions)
    expect(info.hasInit).toBe(true)
    expect(info.hasExit).toBe(true)
    expect(info.sections.find((s) => s.name === '.text')?.size).toBe(4096)
    expect(info.sections.find((s) => s.name === '.gnu.linkonce.this_module')?.size).toBe(0x380)
    expect(embeddedBehaviour(readElf(ko))).toEqual(spec.behaviour)
  })

  it('writes no init/exit and no exports when the spec has none', () => {
    const ko = buildSyntheticModule({ name: 'bare', vermagic: VERMAGIC, behaviour: { functions: {} } })
    const info = readModule(ko)
    expect(info).toMatchObject({ name: 'bare', hasInit: false, hasExit: false, exports: [], imports: [], versions: [] })
    expect(info.modinfo.map((e) => e.key)).toEqual(['depends', 'name', 'vermagic'])
  })

  it('produces a file that kmod and binutils read without complaint', async () => {
    await withDir(
      async ({ path }) => {
        const file = join(path, 'synth_mod.ko')
        await writeFile(file, buildSyntheticModule(spec))
        const { stdout, stderr } = await execa('readelf', ['-aW', file])
        expect(stderr).toBe('')
        expect(stdout).toMatch(/REL \(Relocatable file\)/)
        expect((await execa('modinfo', ['-F', 'depends', file])).stdout).toBe('hello_api,core_lkm')
        expect((await execa('modinfo', ['-F', 'name', file])).stdout).toBe('synth_mod')
        expect((await execa('modinfo', ['-F', 'parm', file])).stdout).toBe('level:how loud (int)')
        expect((await execa('modprobe', ['--dump-modversions', file])).stdout).toBe('0xa83d4555\tapi_test\n0x9060323f\tmodule_layout')
        const { stdout: nm } = await execa('nm', [file])
        expect(nm).toMatch(/ U api_test$/m)
        expect(nm).toMatch(/ T init_module$/m)
      },
      { unsafeCleanup: true },
    )
  })

  // What cannot be written (a 56-byte name, a NUL, a fractional init return...) is refused by defineModule(),
  // the one place user input is validated: see dsl/define.test.ts.
})
