// What a spec author sees when their module takes the real kernel down, and that the next
// test still gets a healthy kernel. Runs on the QEMU backend only: the simulator cannot oops.
import process from 'node:process'
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { createBackend, type Backend } from '../backends/index.js'
import { KmodspecError } from './errors.js'
import { kernel } from './chain.js'

let vm: Backend & { qemuPid?: number }

beforeAll(async () => {
  vm = await createBackend({ backend: 'qemu' })
}, 300_000)
afterAll(() => vm?.close())
beforeEach(() => vm.reset(), 120_000)

async function failure(run: PromiseLike<unknown>): Promise<KmodspecError> {
  try {
    await run
  } catch (error) {
    expect(error).toBeInstanceOf(KmodspecError)
    return error as KmodspecError
  }
  throw new Error('the chain passed, but it should have failed')
}

const healthy = () =>
  kernel({ backend: vm, modules: 'fixtures/hello' })
    .insmod('hello_api')
    .expectDmesg('[hello_api] Hello, World!')
    .expectTainted('OE')
    .rmmod('hello_api')
    .expectNotLoaded('hello_api')

describe('a kernel that fails under a spec (qemu)', () => {
  test('an oops fails the step with the kernel report and keeps the command in the transcript', async () => {
    const e = await failure(kernel({ backend: vm, modules: 'fixtures/crash' }).insmod('crash_oops').insmod('crash_warn'))
    expect(e.message).toContain("kernel(qemu).insmod('crash_oops') failed")
    expect(e.message).toContain('Step:      1/2')
    expect(e.message).toMatch(/At: +src\/dsl\/crash\.test\.ts:\d+:\d+/)
    expect(e.message).toContain('BUG: kernel NULL pointer dereference, address: 0000000000000000')
    expect(e.message).toContain('RIP: 0010:crash_oops_init')
    expect(e.message).toMatch(/> \$ insmod fixtures\/crash\/crash_oops\.ko +kernel failed: oops/)
    expect(e.message).not.toContain('(no commands ran)')
  })

  test('the next test after an oops gets a fresh, untainted kernel', async () => {
    await healthy()
  })

  test('a hang fails at the timeout with what the console showed', async () => {
    const e = await failure(kernel({ backend: vm, modules: 'fixtures/crash', timeout: 3000 }).insmod('crash_hang'))
    expect(e.message).toContain('did not finish within 3000 ms')
    expect(e.message).toContain('[crash_hang] sleeping forever')
    expect(e.message).toMatch(/> \$ insmod fixtures\/crash\/crash_hang\.ko +kernel failed: timeout/)
  })

  test('the next test after a hang gets a fresh kernel', async () => {
    await healthy()
  })

  test('a VM that dies is reported as such', async () => {
    expect(vm.qemuPid).toBeTypeOf('number')
    process.kill(vm.qemuPid!, 'SIGKILL')
    const e = await failure(kernel({ backend: vm, modules: 'fixtures/hello' }).insmod('hello_api'))
    expect(e.message).toMatch(/Received: +died: /)
    expect(e.message).toMatch(/kernel failed: died/)
  })

  test('the next test after a dead VM gets a fresh kernel', async () => {
    await healthy()
  })
})
