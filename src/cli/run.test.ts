// `kmodspec run` on a small project of its own: the report, the exit code, no noise, no temp dirs left.
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import process from 'node:process'
import { withDir } from 'tmp-promise'
import { expect, test, vi } from 'vitest'
import { addRun, emptyReport } from './reporters/model.js'
import { formatReport, trimFailure, type VitestJsonReport } from './run-report.js'
import { runSpecs } from './run.js'

const entry = path.resolve(import.meta.dirname, '..', 'index.ts')
const fixtures = path.resolve(import.meta.dirname, '..', '..', 'fixtures')

const spec = `import { test } from 'vitest'
import { kernel } from ${JSON.stringify(entry)}

test('hello_api loads', async () => {
  await kernel({ modules: ${JSON.stringify(path.join(fixtures, 'hello'))} })
    .insmod('hello_api').expectDmesg('[hello_api] Hello, World!')
})

test('hello_api is not loaded', async () => {
  await kernel({ modules: ${JSON.stringify(path.join(fixtures, 'hello'))} })
    .insmod('hello_api').expectNotLoaded('hello_api')
})
`

async function run(argv: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await runSpecs(argv, { cwd, stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) } })
  return { code, out, err }
}

const leftovers = async () => (await readdir(tmpdir())).filter((n) => n.startsWith(`kmodspec-run--${process.pid}-`))

test('kmodspec run reports each spec, the failure, the transcript with --verbose, and exits 1', async () => {
  await withDir(
    async ({ path: dir }) => {
      await mkdir(path.join(dir, 'specs'))
      await writeFile(path.join(dir, 'specs', 'hello.spec.ts'), spec)
      const { code, out, err } = await run(['--verbose'], dir)
      expect(err).toBe('')
      expect(code).toBe(1)
      expect(out).not.toMatch(/experimental|JSON report written/)
      const lines = out.split('\n')
      expect(lines.slice(0, 7)).toEqual([
        'kmodspec run: specs on the sim kernel',
        '',
        'specs/hello.spec.ts',
        '  ✓ hello_api loads',
        `      $ insmod ${path.join(fixtures, 'hello', 'hello_api.ko')}  exit 0`,
        '        hello_api: loading out-of-tree module taints kernel.',
        '        hello_api: module verification failed: signature and/or required key missing - tainting kernel',
      ])
      expect(out).toContain(
        "  ✗ hello_api is not loaded\n      kernel(sim).expectNotLoaded('hello_api') failed\n\n      Step:      2/2  after insmod('hello_api')\n",
      )
      expect(out).toContain('      At:        specs/hello.spec.ts:11:')
      expect(lines.at(-2)).toBe('1/2 specs passed in 1 file(s) on sim 6.1.0-56-amd64: 1 failed')
      expect(await leftovers()).toEqual([])

      // Without --verbose a passing spec is one line.
      const quiet = await run(['specs/hello.spec.ts', '--', '-t', 'loads'], dir)
      expect(quiet.code).toBe(0)
      expect(quiet.out.split('\n').slice(2)).toEqual([
        'specs/hello.spec.ts',
        '  ✓ hello_api loads',
        '  - hello_api is not loaded (skipped)',
        '',
        '1/2 specs passed in 1 file(s) on sim 6.1.0-56-amd64: all passed',
        '(kmodspec run --verbose shows the commands each spec ran and the kernel log lines they caused)',
        '',
      ])
    },
    { unsafeCleanup: true, prefix: 'kmodspec-run-test-' },
  )
})

test('a spec file that does not load is reported as such', () => {
  const vitest: VitestJsonReport = {
    numTotalTests: 0,
    numPassedTests: 0,
    numFailedTests: 0,
    numTotalTestSuites: 1,
    numFailedTestSuites: 1,
    success: false,
    testResults: [
      {
        name: '/p/specs/broken.spec.ts',
        status: 'failed',
        message: 'Failed to load url kmodspec (resolved id: kmodspec) in /p/specs/broken.spec.ts. Does the file exist?',
        assertionResults: [],
      },
    ],
  }
  const report = emptyReport('sim')
  addRun(report, 'default', vitest, [], '/p')
  expect(formatReport(report, { verbose: false, color: false })).toMatchInlineSnapshot(`
    "specs/broken.spec.ts
      ✗ the file failed to load
          Failed to load url kmodspec (resolved id: kmodspec) in /p/specs/broken.spec.ts. Does the file exist?

    0/0 specs passed in 1 file(s) on sim: 0 failed, 1 file(s) failed to load"
  `)
})

test('failures lose the stack frames of node and node_modules but keep the first user frame', () => {
  const message =
    'AssertionError: expected 1 to be 2\n    at node:internal/x:1:1\n    at /p/node_modules/vitest/a.js:1:1\n    at /p/specs/a.spec.ts:4:13\n    at /p/specs/a.spec.ts:9:1'
  expect(trimFailure(message)).toBe('AssertionError: expected 1 to be 2\nat /p/specs/a.spec.ts:4:13')
})

test('in CI, the one-line progress of a cold kbuild shows even when every spec passed; a warm run is quiet', async () => {
  await withDir(
    async ({ path: dir }) => {
      vi.stubEnv('CI', 'true')
      vi.stubEnv('XDG_CACHE_HOME', path.join(dir, 'cache'))
      try {
        await mkdir(path.join(dir, 'specs'))
        await mkdir(path.join(dir, 'tiny'))
        await writeFile(
          path.join(dir, 'tiny', 'tiny.c'),
          '#include <linux/module.h>\nstatic int __init tiny_init(void) { return 0; }\nmodule_init(tiny_init);\nMODULE_LICENSE("GPL");\n',
        )
        await writeFile(path.join(dir, 'tiny', 'Kbuild'), 'obj-m += tiny.o\n')
        await writeFile(
          path.join(dir, 'specs', 'tiny.spec.ts'),
          `import { test } from 'vitest'\nimport { kernel } from ${JSON.stringify(entry)}\ntest('tiny loads', async () => { await kernel({ modules: 'tiny' }).insmod('tiny').expectLoaded('tiny') }, 120_000)\n`,
        )
        const cold = await run([], dir)
        expect(cold.code).toBe(0)
        expect(
          cold.out
            .split('\n')
            .slice(0, 4)
            .map((l) => l.replace(/\d+\.\d s/, 'N s')),
        ).toEqual(['kmodspec run: specs on the sim kernel', '', 'kmodspec: KBUILD tiny for 6.1.0-56-amd64: tiny.ko (N s)', ''])
        const warm = await run([], dir)
        expect(warm.out.split('\n').slice(0, 4)).toEqual(['kmodspec run: specs on the sim kernel', '', 'specs/tiny.spec.ts', '  ✓ tiny loads'])
      } finally {
        vi.unstubAllEnvs()
      }
    },
    { unsafeCleanup: true, prefix: 'kmodspec-run-test-' },
  )
}, 120_000)

test("a spec slower than vitest's 5 s default passes in a project with no vitest config (a first kbuild or VM boot takes that)", async () => {
  await withDir(
    async ({ path: dir }) => {
      await mkdir(path.join(dir, 'specs'))
      await writeFile(
        path.join(dir, 'specs', 'slow.spec.ts'),
        "import { test } from 'vitest'\ntest('takes 6 s', async () => { await new Promise((r) => setTimeout(r, 6000)) })\n",
      )
      const { code, out } = await run([], dir)
      expect(out).toContain('  ✓ takes 6 s')
      expect(code).toBe(0)
    },
    { unsafeCleanup: true },
  )
}, 60_000)
