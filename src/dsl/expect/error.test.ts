import { describe, expect, test } from 'vitest'
import { kernel } from '../chain.js'
import { createFakeBackend, type ScriptedCommand } from '../testing/fake-backend.js'
import { failureOf, shape } from '../testing/helpers.js'

// Texts: the seeds (shared/seeds) and the VM captures (fixtures/captures/errors-*.json, 6.1.0-56-amd64);
// the once-per-boot taint lines that precede some of them are left out.
const cases: Array<{
  kind: Parameters<ReturnType<typeof kernel>['expectError']>[0]
  details?: Record<string, unknown>
  cmd: ScriptedCommand
  call: (k: ReturnType<typeof kernel>) => ReturnType<typeof kernel>
}> = [
  {
    kind: 'unknown-symbol',
    details: { symbol: 'api_test' },
    call: (k) => k.insmod('hello_feature'),
    cmd: {
      argv: ['insmod', 'fixtures/hello/hello_feature.ko'],
      exitCode: 1,
      stderr: 'insmod: ERROR: could not insert module fixtures/hello/hello_feature.ko: Unknown symbol in module\n',
      dmesg: ['hello_feature: Unknown symbol api_test (err -2)'],
    },
  },
  {
    kind: 'in-use',
    details: { by: ['client_lkm'] },
    call: (k) => k.rmmod('core_lkm'),
    cmd: { argv: ['rmmod', 'core_lkm'], exitCode: 1, stderr: 'rmmod: ERROR: Module core_lkm is in use by: client_lkm\n' },
  },
  {
    kind: 'not-found',
    call: (k) => k.modprobe('hello_feature'),
    cmd: {
      argv: ['modprobe', 'hello_feature'],
      exitCode: 1,
      stderr: 'modprobe: FATAL: Module hello_feature not found in directory /lib/modules/6.1.0-56-amd64\n',
    },
  },
  {
    kind: 'not-loaded',
    call: (k) => k.rmmod('hello_api'),
    cmd: { argv: ['rmmod', 'hello_api'], exitCode: 1, stderr: 'rmmod: ERROR: Module hello_api is not currently loaded\n' },
  },
  {
    kind: 'already-loaded',
    call: (k) => k.insmod('hello_api'),
    cmd: {
      argv: ['insmod', 'fixtures/hello/hello_api.ko'],
      exitCode: 1,
      stderr: 'insmod: ERROR: could not insert module fixtures/hello/hello_api.ko: File exists\n',
    },
  },
  {
    kind: 'invalid-format',
    call: (k) => k.insmod('fixtures/errors/not_elf.ko'),
    cmd: {
      argv: ['insmod', 'fixtures/errors/not_elf.ko'],
      exitCode: 1,
      stderr: 'insmod: ERROR: could not insert module fixtures/errors/not_elf.ko: Invalid module format\n',
    },
  },
  {
    kind: 'vermagic',
    call: (k) => k.insmod('fixtures/errors/bad_vermagic.ko'),
    cmd: {
      argv: ['insmod', 'fixtures/errors/bad_vermagic.ko'],
      exitCode: 1,
      stderr: 'insmod: ERROR: could not insert module fixtures/errors/bad_vermagic.ko: Invalid module format\n',
      dmesg: [
        "bad_vermagic: version magic '6.1.0-56-amd64 SMP preempt mod_unl0ad modversions ' should be '6.1.0-56-amd64 SMP preempt mod_unload modversions '",
      ],
    },
  },
  {
    kind: 'invalid-params',
    details: { param: 'count' },
    call: (k) => k.insmod('fixtures/errors/params.ko', { count: 'abc' }),
    cmd: {
      argv: ['insmod', 'fixtures/errors/params.ko', 'count=abc'],
      exitCode: 1,
      stderr: 'insmod: ERROR: could not insert module fixtures/errors/params.ko: Invalid parameters\n',
      dmesg: ["params: `abc' invalid for parameter `count'"],
    },
  },
  {
    kind: 'symbol-version',
    details: { symbol: 'api_test' },
    call: (k) => k.insmod('fixtures/errors/crc_mismatch.ko'),
    cmd: {
      argv: ['insmod', 'fixtures/errors/crc_mismatch.ko'],
      exitCode: 1,
      stderr: 'insmod: ERROR: could not insert module fixtures/errors/crc_mismatch.ko: Invalid parameters\n',
      dmesg: ['crc_mismatch: disagrees about version of symbol api_test', 'crc_mismatch: Unknown symbol api_test (err -22)'],
    },
  },
  {
    kind: 'init-failed',
    details: { errno: 'ENODEV' },
    call: (k) => k.insmod('fixtures/errors/init_fail.ko'),
    cmd: {
      argv: ['insmod', 'fixtures/errors/init_fail.ko'],
      exitCode: 1,
      stderr: 'insmod: ERROR: could not insert module fixtures/errors/init_fail.ko: No such device\n',
      dmesg: ['[init_fail] init fails with -ENODEV'],
    },
  },
]

const chainFor = (cmd: ScriptedCommand) => kernel({ backend: createFakeBackend({ script: [cmd] }), modules: ['fixtures/hello', 'fixtures/stacking'] })

describe.each(cases)('expectError($kind)', ({ kind, details, cmd, call }) => {
  test('passes on what the tool and the kernel printed', async () => {
    await call(chainFor(cmd)).expectError(kind, details)
  })

  test('fails with the observed kind when another is expected', async () => {
    const other = kind === 'not-loaded' ? 'in-use' : 'not-loaded'
    const error = await failureOf(call(chainFor(cmd)).expectError(other))
    expect(shape(error)).toMatchSnapshot()
  })
})

describe('expectError failures', () => {
  test('on an action that succeeded', async () => {
    const ok: ScriptedCommand = { argv: ['insmod', 'fixtures/hello/hello_api.ko'], dmesg: ['[hello_api] Hello, World!'], load: [{ name: 'hello_api' }] }
    expect(shape(await failureOf(chainFor(ok).insmod('hello_api').expectError('unknown-symbol')))).toMatchInlineSnapshot(`
      "kernel(sim).expectError('unknown-symbol') failed

      Step:      2/2  after insmod('hello_api')
      At:        FILE:LINE:COL
      Expected:  error unknown-symbol
      Received:  success (exit 0)

      Transcript
        $ insmod fixtures/hello/hello_api.ko  exit 0
          [hello_api] Hello, World!"
    `)
  })

  test('on the right kind with other details', async () => {
    expect(shape(await failureOf(cases[1]!.call(chainFor(cases[1]!.cmd)).expectError('in-use', { by: ['hello_feature'] })))).toMatchInlineSnapshot(`
      "kernel(sim).expectError('in-use', { by: ['hello_feature'] }) failed

      Step:      2/2  after rmmod('core_lkm')
      At:        FILE:LINE:COL
      Expected:  error in-use { by: ['hello_feature'] }
      Received:  in-use (by client_lkm)
                 rmmod: ERROR: Module core_lkm is in use by: client_lkm

      Transcript
        $ rmmod core_lkm  exit 1
          rmmod: ERROR: Module core_lkm is in use by: client_lkm"
    `)
  })

  test('on the wrong errno', async () => {
    const c = cases.find((x) => x.kind === 'init-failed')!
    expect((await failureOf(c.call(chainFor(c.cmd)).expectError('init-failed', { errno: 'ENOMEM' }))).actual).toBe(
      'init-failed (errno ENODEV (-19))\ninsmod: ERROR: could not insert module fixtures/errors/init_fail.ko: No such device',
    )
  })

  test('a vermagic mismatch also satisfies invalid-format', async () => {
    const c = cases.find((x) => x.kind === 'vermagic')!
    await c.call(chainFor(c.cmd)).expectError('invalid-format')
  })
})
