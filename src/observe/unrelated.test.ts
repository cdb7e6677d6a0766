import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { normalizeText, reportHead } from '../backends/normalize.js'
import { isUnrelatedText, splitUnrelated } from './unrelated.js'

// Lines the real 6.1.0-56-amd64 kernel logged in the VM after the agent came up on a fast host
// (issue 7's report and a boot on this project's machine): they landed in the first step after a restore.
const lateBootLines = [
  'tsc: Refined TSC clocksource calibration: 2596.119 MHz',
  'clocksource: tsc: mask: 0xffffffffffffffff max_cycles: 0x256be9ca8ec, max_idle_ns: 440795260123 ns',
  'clocksource: Switched to clocksource tsc',
  'tsc: Refined TSC clocksource calibration: 2249.973 MHz',
  'clocksource: tsc: mask: 0xffffffffffffffff max_cycles: 0x206e9a70fd5, max_idle_ns: 440795238029 ns',
]

describe('records the kernel logs on its own schedule', () => {
  test('the late boot lines seen on real kernels are unrelated to any step', () => {
    for (const line of lateBootLines) expect(isUnrelatedText(line), line).toBe(true)
  })

  test('no record any fixture script caused on the real kernel is taken for one', () => {
    const dir = join(process.cwd(), 'fixtures/captures')
    const texts = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) => {
        const capture = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { commands: Array<{ dmesg?: string[]; stdout?: string }> }
        return capture.commands.flatMap((c) => c.dmesg ?? [])
      })
    expect(texts.length).toBeGreaterThan(50)
    expect(texts.filter(isUnrelatedText)).toEqual([])
  })

  test('a module that prints about clocks is still its own author', () => {
    expect(isUnrelatedText('[my_clock] clocksource: Switched to clocksource tsc')).toBe(false)
    expect(isUnrelatedText('clocksource: my_timer: mask: 0xffffffff max_cycles: 0xffffffff, max_idle_ns: 1 ns')).toBe(false)
  })

  test('splitUnrelated keeps the order of both halves', () => {
    const rec = (seq: number, text: string) => ({ seq, level: 6, facility: 0, timestampUs: seq, text })
    const { caused, unrelated } = splitUnrelated([rec(1, lateBootLines[0]!), rec(2, '[hello_api] Hello, World!'), rec(3, lateBootLines[2]!)])
    expect(caused.map((r) => r.seq)).toEqual([2])
    expect(unrelated.map((r) => r.seq)).toEqual([1, 3])
  })

  test("a dmesg command's output compares equal with or without such a line", () => {
    const withLate =
      '[    3.290692] hello_api: loading out-of-tree module taints kernel.\n[    3.300000] clocksource: Switched to clocksource tsc\n[    3.302525] [hello_api] Hello, World!\n'
    const without = '[    1.000000] hello_api: loading out-of-tree module taints kernel.\n[    1.100000] [hello_api] Hello, World!\n'
    expect(normalizeText(withLate)).toBe(normalizeText(without))
    // Only whole dmesg lines go: the same words elsewhere are kept.
    expect(normalizeText('clocksource: Switched to clocksource tsc\n')).toBe('clocksource: Switched to clocksource tsc\n')
  })
})

describe('reportHead', () => {
  // The start of the report the 6.1 VM printed for fixtures/crash/crash_oops.ko (fixtures/captures/crash-oops.json).
  const vm = [
    'BUG: kernel NULL pointer dereference, address: 0000000000000000',
    'Oops: 0002 [#1] PREEMPT SMP NOPTI',
    'CPU: 0 PID: 81 Comm: insmod Tainted: G           OE      6.1.0-56-amd64 #1  Debian 6.1.192-2',
    'RIP: 0010:crash_oops_init+0x1c/0x1000 [crash_oops]',
    'RSP: 0018:ffffc900005a3b98 EFLAGS: 00000246',
  ].join('\n')
  test("keeps the kernel's words up to the RIP line, with the PID masked", () => {
    expect(reportHead(vm)).toBe(vm.split('\n').slice(0, 4).join('\n').replace('PID: 81', 'PID: N'))
    expect(reportHead('watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [insmod:215]')).toBe('watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [insmod:N]')
  })
})
