// The simulator says when it is not sure it simulates a module faithfully; a real kernel never does.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { dir as tmpDir } from 'tmp-promise'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { buildModules } from '../build/kbuild.js'
import { buildSyntheticModule } from '../elf/write.js'
import { loadEmbeddedProfile } from '../profile/index.js'
import type { Backend } from './types.js'
import { createSimBackend } from './sim.js'

let sim: Backend
beforeAll(async () => {
  sim = await createSimBackend()
})
afterAll(() => sim.close())

test('a module derived from straight-line code loads with no note', async () => {
  const r = await sim.exec(['insmod', 'fixtures/hello/hello_api.ko'])
  expect(r.exitCode).toBe(0)
  expect(r.notes).toBeUndefined()
})

test('a module whose init branches carries a note naming it and what to do', async () => {
  const r = await sim.exec(['insmod', 'fixtures/crash/crash_warn.ko'])
  expect(r.notes).toEqual([
    'crash_warn: simulated from the straight-line path of init_module, which branches; ' +
      'what other paths print or return is not simulated: describe the module with defineModule() to be exact',
  ])
  // Notes are the simulator's own words: nothing of them reaches the output a real kernel gives.
  expect(r.stdout + r.stderr + r.dmesg.map((d) => d.text).join('\n')).not.toContain('simulated')
  // Each note is given once, with the command that caused it.
  expect((await sim.exec(['lsmod'])).notes).toBeUndefined()
})

test('a module that prints with arguments carries a note saying the values are unknown', async () => {
  const src = await tmpDir({ unsafeCleanup: true })
  try {
    await writeFile(join(src.path, 'Kbuild'), 'obj-m += argful.o\n')
    await writeFile(
      join(src.path, 'argful.c'),
      '#include <linux/module.h>\nstatic int count = 3;\nmodule_param(count, int, 0444);\n' +
        'static int __init argful_init(void) { pr_info("argful: count=%d\\n", count); return 0; }\n' +
        'static void __exit argful_exit(void) { pr_info("argful: 100%% done\\n"); }\n' +
        'module_init(argful_init);\nmodule_exit(argful_exit);\nMODULE_LICENSE("GPL");\n',
    )
    const [ko] = await buildModules(src.path, { release: sim.release })
    const r = await sim.exec(['insmod', ko!, 'count=7'])
    expect(r.exitCode).toBe(0)
    expect(r.dmesg.map((d) => d.text)).toContain('argful: count=%d')
    expect(r.notes).toEqual([
      'argful: printk arguments are not known to the simulator, so it logs "argful: count=%d" as written: ' +
        'match those lines with a RegExp, or describe the module with defineModule()',
    ])
  } finally {
    await src.cleanup()
  }
}, 60_000)

test('a defineModule() model is exact by definition: no note', async () => {
  const image = buildSyntheticModule({
    name: 'modelled',
    license: 'GPL',
    vermagic: loadEmbeddedProfile().vermagic,
    behaviour: { init: { actions: [{ print: '\u00016modelled: n=%d\n' }], returns: 0 }, functions: {} },
  })
  const dir = await tmpDir({ unsafeCleanup: true })
  try {
    await writeFile(join(dir.path, 'modelled.ko'), image)
    const r = await sim.exec(['insmod', join(dir.path, 'modelled.ko')])
    expect(r.exitCode).toBe(0)
    expect(r.notes).toBeUndefined()
  } finally {
    await dir.cleanup()
  }
})
