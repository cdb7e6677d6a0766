// The simulator says when it is not sure it simulates a module faithfully; a real kernel never does.
// Modules run their own machine code, so their prints and branches are the kernel's; notes remain for
// what the simulated CPU cannot know (a report's PID and registers, unmodelled kernel functions).
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { dir as tmpDir } from 'tmp-promise'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { buildModules } from '../build/kbuild.js'
import { buildSyntheticModule } from '../elf/write.js'
import { loadEmbeddedProfile } from '../profile/index.js'
import { BackendError, type Backend } from './types.js'
import { createSimBackend } from './sim.js'

let sim: Backend
beforeAll(async () => {
  sim = await createSimBackend()
})
afterAll(() => sim.close())

test('a module whose code calls only modelled kernel functions loads with no note', async () => {
  const r = await sim.exec(['insmod', 'fixtures/hello/hello_api.ko'])
  expect(r.exitCode).toBe(0)
  expect(r.notes).toBeUndefined()
})

test("a module's own code runs: its WARN_ON fails the step with the kernel's report, as on the VM", async () => {
  await sim.reset()
  const error = await sim.exec(['insmod', 'fixtures/crash/crash_warn.ko']).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(BackendError)
  const e = error as BackendError
  expect(e.kind).toBe('warning')
  // The first lines as the 6.1 VM printed them for this module (PID aside: the simulator has no process table).
  expect(
    e.report
      .split('\n')
      .slice(0, 6)
      .join('\n')
      .replace(/PID: \d+/g, 'PID: N'),
  ).toBe(
    [
      '------------[ cut here ]------------',
      'WARNING: CPU: 0 PID: N at crash_warn.c:11 crash_warn_init+0x11/0x1000 [crash_warn]',
      'Modules linked in: crash_warn(OE+)',
      'CPU: 0 PID: N Comm: insmod Tainted: G           OE      6.1.0-56-amd64 #1  Debian 6.1.192-2',
      'Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014',
      'RIP: 0010:crash_warn_init+0x11/0x1000 [crash_warn]',
    ].join('\n'),
  )
  // What the simulator cannot know of that report is said in a note, never in the log.
  const notes = (e.cause as { notes?: string[] }).notes ?? []
  expect(notes.join('\n')).toContain('PID, registers and call trace are the simulator')
  expect((e.cause as { dmesg: { text: string }[] }).dmesg.map((d) => d.text).join('\n')).not.toContain('simulat')
})

test('a module that prints with arguments logs the values its code formats, with no note', async () => {
  const src = await tmpDir({ unsafeCleanup: true })
  try {
    await writeFile(join(src.path, 'Kbuild'), 'obj-m += argful.o\n')
    await writeFile(
      join(src.path, 'argful.c'),
      '#include <linux/module.h>\nstatic int count = 3;\nmodule_param(count, int, 0444);\n' +
        'static int __init argful_init(void) { pr_info("argful: count=%d\\n", count); count *= 2; return 0; }\n' +
        'static void __exit argful_exit(void) { pr_info("argful: 100%% done\\n"); }\n' +
        'module_init(argful_init);\nmodule_exit(argful_exit);\nMODULE_LICENSE("GPL");\n',
    )
    const [ko] = await buildModules(src.path, { release: sim.release })
    const r = await sim.exec(['insmod', ko!, 'count=7'])
    expect(r.exitCode).toBe(0)
    expect(r.dmesg.map((d) => d.text)).toContain('argful: count=7')
    expect(r.notes).toBeUndefined()
    // The parameter lives in the module's own variable: what init wrote is what sysfs reads.
    expect((await sim.exec(['cat', '/sys/module/argful/parameters/count'])).stdout).toBe('14\n')
    expect((await sim.exec(['rmmod', 'argful'])).dmesg.map((d) => d.text)).toEqual(['argful: 100% done'])
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
