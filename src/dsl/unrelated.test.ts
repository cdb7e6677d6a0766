import { describe, expect, test } from 'vitest'
import { kernel } from './chain.js'
import { createFakeBackend, type ScriptedCommand } from './testing/fake-backend.js'
import { failureOf, shape } from './testing/helpers.js'

// A step on a real kernel during which the kernel switched its clocksource on its own (issue 7).
const lateSwitch = 'clocksource: Switched to clocksource tsc'
const apiLoad: ScriptedCommand = {
  argv: ['insmod', 'fixtures/hello/hello_api.ko'],
  dmesg: ['[hello_api] Hello, World!'],
  unrelated: [lateSwitch],
  load: [{ name: 'hello_api' }],
}
const run = () => kernel({ backend: createFakeBackend({ script: [apiLoad] }), modules: 'fixtures/hello' }).insmod('hello_api')

describe('records a step did not cause', () => {
  test('are not matched by expectDmesg or expectNoDmesg', async () => {
    await run()
      .expectDmesg(['[hello_api] Hello, World!'], { exact: true })
      .expectNoDmesg(/clocksource/)
    const error = await failureOf(run().expectDmesg(lateSwitch))
    expect(error.message).toContain('Received:  kernel log of insmod')
  })

  test("are shown in the transcript, marked as the kernel's own", async () => {
    const error = await failureOf(run().expectDmesg('[hello_api] Goodbye'))
    expect(shape(error)).toContain(`    [hello_api] Hello, World!\n    ${lateSwitch}  (kernel, not caused by this step)`)
  })
})
