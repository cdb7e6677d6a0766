// A module whose init spins forever (fixtures/crash/crash_loop.ko) against what the 6.1 VM printed
// (fixtures/crash/crash_loop.capture.json): the soft-lockup report up to its RIP line, with the parts
// that depend on timing masked (the seconds, the PID, where in the loop the watchdog caught the CPU).
import { readFileSync } from 'node:fs'
import { expect, test } from 'vitest'
import { loadEmbeddedProfile } from '../../profile/index.js'
import { SimKernelFault } from './exec.js'
import { createSimKernel } from './index.js'

const vm = JSON.parse(readFileSync('fixtures/crash/crash_loop.capture.json', 'utf8')) as { kind: string; console: string[] }

/** Timing, not behaviour: "stuck for 26s! [insmod:82]", "PID: 82", "crash_loop_init+0x24/". */
const timing = (line: string) =>
  line
    .replace(/stuck for \d+s! \[(\w+):\d+\]/, 'stuck for Ns! [$1:N]')
    .replace(/\bPID: \d+/, 'PID: N')
    .replace(/\+0x[0-9a-f]+\//, '+0x?/')

test('a runaway loop in init: the kernel log up to the RIP line equals the VM console, timing masked; the command never returns', () => {
  const k = createSimKernel({ profile: loadEmbeddedProfile() })
  let fault: unknown
  try {
    k.finitModule(readFileSync('fixtures/crash/crash_loop.ko'), '', 0)
  } catch (e) {
    fault = e
  }
  // The sim backend turns a 'hang' into BackendError 'timeout', the kind the VM's step ended with.
  expect(vm.kind).toBe('timeout')
  expect(fault).toBeInstanceOf(SimKernelFault)
  expect((fault as SimKernelFault).kind).toBe('hang')
  const log = k.log.since(0).map((r) => r.text)
  const rip = log.findIndex((l) => l.startsWith('RIP: '))
  expect(log.slice(0, rip + 1).map(timing)).toEqual(vm.console.map(timing))
  expect(k.takeNotes().join('\n')).toMatch(/crash_loop: its code ran 10,000,000 instructions without returning/)
})
