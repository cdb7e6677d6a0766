// The comparison behind `kmodspec diff` and the differential suite, without a VM.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import stripAnsi from 'strip-ansi'
import { dir as tmpDir } from 'tmp-promise'
import { afterEach, describe, expect, test, vi } from 'vitest'
import type { TranscriptStep } from '../backends/normalize.js'
import { compareRuns, formatComparison, lineRows, main, type ScriptRun, type StepRecord } from './diff.js'

const release = '6.1.0-56-amd64'
const step = (cmd: string, fields: Partial<Omit<TranscriptStep, 'cmd'>> = {}): StepRecord => ({
  cmd,
  exitCode: 0,
  stdout: '',
  stderr: '',
  dmesg: [],
  ...fields,
})
const run = (...steps: StepRecord[]): ScriptRun => ({ release, steps })

const lsmodOne = 'Module                  Size  Used by\nhello_api              16384  0\n'
const lsmodTwo = 'Module                  Size  Used by\nhello_feature          16384  0\nhello_api              16384  1 hello_feature\n'

describe('compareRuns', () => {
  test('equal runs have no differences', () => {
    const a = run(step('insmod fixtures/hello/hello_api.ko', { dmesg: ['[hello_api] Hello, World!'] }), step('lsmod', { stdout: lsmodOne }))
    const c = compareRuns(a, structuredClone(a))
    expect(c).toEqual({ commands: 2, differences: [] })
    expect(formatComparison(c, { name: 'x.sh' })).toBe('x.sh: same (2 commands)\n')
  })

  test('a stdout difference names the command and aligns the lines', () => {
    const c = compareRuns(run(step('dmesg -C'), step('lsmod', { stdout: lsmodOne })), run(step('dmesg -C'), step('lsmod', { stdout: lsmodTwo })))
    expect(c.differences).toEqual([
      {
        index: 1,
        cmd: 'lsmod',
        fields: [
          {
            field: 'stdout',
            rows: [
              { mark: ' ', left: 'Module                  Size  Used by', right: 'Module                  Size  Used by' },
              // a changed block pairs its lines in order, as `diff -y` does
              { mark: '|', left: 'hello_api              16384  0', right: 'hello_feature          16384  0' },
              { mark: '>', right: 'hello_api              16384  1 hello_feature' },
            ],
          },
        ],
      },
    ])
  })

  test('a dmesg difference and an exit code difference are both reported', () => {
    const c = compareRuns(
      run(step('rmmod hello_api', { dmesg: ['[hello_api] Goodbye'] })),
      run(step('rmmod hello_api', { exitCode: 1, stderr: 'rmmod: ERROR: Module hello_api is in use by: hello_feature\n' })),
    )
    expect(c.differences[0]!.fields.map((f) => f.field)).toEqual(['exit code', 'stderr', 'dmesg'])
    expect(c.differences[0]!.fields[2]!.rows).toEqual([{ mark: '<', left: '[hello_api] Goodbye' }])
  })

  test('timestamps and kernel addresses are ignored, nothing else', () => {
    const a = run(
      step('cat /proc/modules', { stdout: 'hello_api 16384 0 - Live 0xffffffffc0201000 (OE)\n' }),
      step('dmesg', { stdout: '[    3.982261] [hello_api] Hello, World!\n' }),
    )
    const b = run(
      step('cat /proc/modules', { stdout: 'hello_api 16384 0 - Live 0xffffffffc0206000 (OE)\n' }),
      step('dmesg', { stdout: '[   12.000001] [hello_api] Hello, World!\n' }),
    )
    expect(compareRuns(a, b).differences).toEqual([])
    const c = run(
      step('cat /proc/modules', { stdout: 'hello_api 16384 0 - Live 0xffffffffc0201000 (OE)\n' }),
      step('dmesg', { stdout: '[    3.982261] [hello_api] Hello, World!!\n' }),
    )
    expect(compareRuns(a, c).differences.map((d) => d.cmd)).toEqual(['dmesg'])
  })

  test('a difference only in the final newline is shown', () => {
    const c = compareRuns(run(step('cat f', { stdout: 'x\n' })), run(step('cat f', { stdout: 'x' })))
    expect(c.differences[0]!.fields[0]!.rows).toEqual([
      { mark: ' ', left: 'x', right: 'x' },
      { mark: '|', left: '(ends with a newline)', right: '(no newline at the end)' },
    ])
  })

  test('a kernel failure on one side is a difference, and the rest of that run is reported as not run', () => {
    const crash: StepRecord = {
      cmd: 'insmod fixtures/crash/crash_oops.ko',
      error: {
        kind: 'oops',
        message: 'the kernel reported an oops',
        report: 'BUG: kernel NULL pointer dereference, address: 0000000000000000\nOops: 0002 [#1] PREEMPT SMP NOPTI\n',
      },
    }
    const c = compareRuns(run(step('insmod fixtures/crash/crash_oops.ko'), step('lsmod', { stdout: lsmodOne })), run(crash))
    expect(c.commands).toBe(2)
    expect(c.differences.map((d) => d.fields.map((f) => f.field))).toEqual([['kernel failure'], ['not run']])
    expect(formatComparison(c, { name: 'crash.sh', lineOf: (i) => i + 2 })).toMatchInlineSnapshot(`
      "--- crash.sh: simulator on the left, VM on the right
      line 2: insmod fixtures/crash/crash_oops.ko
        kernel failure
        ! (no kernel failure) | oops: the kernel reported an oops
        ! exit code 0         | BUG: kernel NULL pointer dereference, address: 0000000000000000
        !                     > Oops: 0002 [#1] PREEMPT SMP NOPTI
      line 3: lsmod
        not run
        ! exit code 0 | (not run: the kernel failed at an earlier command)
      crash.sh: 2 of 2 commands differ
      "
    `)
  })

  test('the same kernel failure on both sides is no difference; a different kind is', () => {
    const oops = (kind: string, address: string): StepRecord => ({
      cmd: 'insmod x.ko',
      error: { kind, message: 'failed', report: `RIP: 0010:x_init+0x1c/0x1000 [x]\nRBX: ${address}\n` },
    })
    expect(compareRuns(run(oops('oops', 'ffffffffc0206000')), run(oops('oops', 'ffffffffc0301000'))).differences).toEqual([])
    expect(compareRuns(run(oops('oops', 'ffffffffc0206000')), run(oops('panic', 'ffffffffc0206000'))).differences).toHaveLength(1)
  })

  test('when the releases differ, release strings are compared as <release> and the output says so', () => {
    const uname = (r: string) => step('modinfo -F vermagic x.ko', { stdout: `${r} SMP preempt mod_unload modversions \n` })
    const a: ScriptRun = { release, steps: [uname(release)] }
    const b: ScriptRun = { release: '6.1.0-40-amd64', steps: [uname('6.1.0-40-amd64')] }
    const c = compareRuns(a, b)
    expect(c).toEqual({ commands: 1, differences: [], releases: { left: release, right: '6.1.0-40-amd64' } })
    expect(formatComparison(c, { name: 'v.sh' })).toBe(
      'v.sh: releases differ (simulator 6.1.0-56-amd64, VM 6.1.0-40-amd64): both release strings compared as <release>\nv.sh: same (1 commands)\n',
    )
    // With equal releases nothing is rewritten: another release in the text is a difference.
    expect(compareRuns(a, { release, steps: [uname('6.1.0-40-amd64')] }).differences).toHaveLength(1)
  })

  test('commands that differ between the runs (a stale capture) are reported', () => {
    const c = compareRuns(run(step('lsmod')), run(step('lsmod -v')))
    expect(c.differences[0]!.fields).toEqual([{ field: 'command', rows: [{ mark: '|', left: 'lsmod', right: 'lsmod -v' }] }])
  })
})

describe('formatComparison', () => {
  const sim = run(
    step('insmod fixtures/hello/hello_api.ko', { dmesg: ['hello_api: loading out-of-tree module taints kernel.', '[hello_api] Hello, World!'] }),
    step('lsmod', { stdout: lsmodOne }),
    step('rmmod hello_api'),
  )
  const vm = run(
    step('insmod fixtures/hello/hello_api.ko', {
      dmesg: [
        'hello_api: loading out-of-tree module taints kernel.',
        'hello_api: module verification failed: signature and/or required key missing - tainting kernel',
        '[hello_api] Hello, World!',
      ],
    }),
    step('lsmod', { stdout: lsmodOne }),
    step('rmmod hello_api', { exitCode: 1, stderr: 'rmmod: ERROR: Module hello_api is in use\n' }),
  )

  test('the side-by-side format', () => {
    expect(formatComparison(compareRuns(sim, vm), { name: 'fixtures/scripts/x.sh', lineOf: (i) => [3, 4, 6][i] })).toMatchInlineSnapshot(`
      "--- fixtures/scripts/x.sh: simulator on the left, VM on the right
      line 3: insmod fixtures/hello/hello_api.ko
        dmesg
          hello_api: loading out-of-tree module taints kernel. | hello_api: loading out-of-tree module taints kernel.
        !                                                      > hello_api: module verification failed: signature and/or required key missing - tainting kernel
          [hello_api] Hello, World!                            | [hello_api] Hello, World!
      line 6: rmmod hello_api
        exit code
        ! 0 | 1
        stderr
        !  > rmmod: ERROR: Module hello_api is in use
      fixtures/scripts/x.sh: 2 of 3 commands differ
      "
    `)
  })

  test('colors change nothing but the colors, and other labels name the sides', () => {
    const c = compareRuns(sim, vm)
    const colored = formatComparison(c, { name: 'x.sh', color: true, labels: ['capture', 'VM (live)'] })
    expect(colored).not.toBe(stripAnsi(colored))
    expect(stripAnsi(colored)).toBe(formatComparison(c, { name: 'x.sh', labels: ['capture', 'VM (live)'] }))
    expect(stripAnsi(colored).split('\n')[0]).toBe('--- x.sh: capture on the left, VM (live) on the right')
  })
})

test('lineRows pairs a changed block and keeps common lines aligned', () => {
  expect(lineRows(['a', 'b', 'c', 'd'], ['a', 'x', 'y', 'z', 'd'])).toEqual([
    { mark: ' ', left: 'a', right: 'a' },
    { mark: '|', left: 'b', right: 'x' },
    { mark: '|', left: 'c', right: 'y' },
    { mark: '>', right: 'z' },
    { mark: ' ', left: 'd', right: 'd' },
  ])
})

describe('kmodspec diff: usage (no VM needed)', () => {
  let out = ''
  let err = ''
  const capture = () => {
    out = ''
    err = ''
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true))
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true))
  }
  afterEach(() => {
    vi.restoreAllMocks()
  })

  test('--help prints the usage and exits 0', async () => {
    capture()
    expect(await main(['--help'])).toBe(0)
    expect(out).toMatch(/^usage: kmodspec diff \[--release R\] \[--tree installed\] \[--json\] SCRIPT\.\.\./)
  })

  test('an unknown option, no script, a missing script: exit 2 saying what is wrong', async () => {
    capture()
    expect(await main(['--frobnicate', 'x.sh'])).toBe(2)
    expect(err).toMatch(/^kmodspec diff: Unknown option '--frobnicate'/)
    capture()
    expect(await main([])).toBe(2)
    expect(err).toMatch(/^kmodspec diff: name at least one script to compare/)
    capture()
    expect(await main(['no/such/script.sh'])).toBe(2)
    expect(err).toBe("kmodspec diff: cannot read script 'no/such/script.sh': ENOENT\n")
  })

  test('a script the language rejects: exit 2 naming the file and line, before any backend starts', async () => {
    const tmp = await tmpDir({ unsafeCleanup: true })
    try {
      const file = join(tmp.path, 'bad.sh')
      await writeFile(file, 'lsmod\nlsmod | grep hello\n')
      capture()
      expect(await main([file])).toBe(2)
      expect(err).toBe(`kmodspec diff: ${file}: line 2: pipes are not supported: write one command a line\n`)
      expect(out).toBe('')
    } finally {
      await tmp.cleanup()
    }
  })
})
