// Options from the kernel command line, judged live by the real kernel: the VM boots with the same
// words (a saved state of its own) and the simulator must print what it prints. Needs the VM: never skipped.
import { readFileSync } from 'node:fs'
import { afterAll, describe, expect, test } from 'vitest'
import { createBackend } from '../../backends/index.js'
import type { Backend } from '../../backends/types.js'
import { compareRuns, formatComparison, runScript } from '../../cli/diff.js'
import { parseScript } from '../../cli/script.js'
import { kernel } from '../../index.js'

const SCRIPT = 'fixtures/cmdline/cmdline-options.sh'
const CMDLINE = 'printk.time=0 printk.ignore_loglevel params.count=5 modprobe.blacklist=hello_api,other hello-api.x=1'
const opened: Backend[] = []
afterAll(async () => Promise.all(opened.map((b) => b.close())))

async function run(backend: 'sim' | 'qemu') {
  const b = await createBackend({ backend, cmdline: CMDLINE })
  opened.push(b)
  return runScript(b, parseScript(readFileSync(SCRIPT, 'utf8')))
}

describe('kernel command line options: simulator = VM booted with them', () => {
  test(`${SCRIPT} with ${CMDLINE}`, async () => {
    const [vm, sim] = [await run('qemu'), await run('sim')]
    // the words reached both kernels and modprobe
    const stdout = (cmd: string) => {
      const step = vm.steps.find((s) => s.cmd === cmd)
      return step && 'stdout' in step ? step.stdout : undefined
    }
    expect(stdout('cat /sys/module/printk/parameters/time')).toBe('N\n')
    expect(stdout('modprobe -n -v params')).toContain('count=5')
    const comparison = compareRuns(sim, vm)
    expect(comparison.differences, formatComparison(comparison, { name: SCRIPT })).toEqual([])
  }, 180_000)

  test('the simulator shows the command line it was given in /proc/cmdline', async () => {
    const b = await createBackend({ backend: 'sim', cmdline: CMDLINE })
    opened.push(b)
    expect((await b.exec(['cat', '/proc/cmdline'])).stdout).toBe(`${CMDLINE}\n`)
  })

  test('kernel({ cmdline }) reaches the backend; a bad one is refused with what to write', async () => {
    await kernel({ cmdline: 'printk.time=0' }).run(['cat', '/sys/module/printk/parameters/time']).expectOutput('N')
    await expect(async () => kernel({ cmdline: 'a\nb' } as never).run(['lsmod'])).rejects.toThrow(/cmdline must be one line of kernel arguments/)
  })
})
