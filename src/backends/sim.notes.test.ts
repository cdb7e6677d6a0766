// The simulator says when it is not sure it simulates a module faithfully; a real kernel never does.
import { afterAll, beforeAll, expect, test } from 'vitest'
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
