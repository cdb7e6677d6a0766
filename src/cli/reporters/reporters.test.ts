// kmodspec run's reporters on real runs: a spec matrix over two releases as terminal table, JUnit (parsed back
// by Python's XML parser), KTAP (checked against the grammar of Documentation/dev-tools/ktap.rst) and JSON;
// shards and their merge; the one-line errors of bad options.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { dir as tmpDir, type DirectoryResult } from 'tmp-promise'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { setup } from '../setup.js'
import { runSpecs } from '../run.js'
import { parseReport, type RunReport } from './model.js'

const entry = path.resolve(import.meta.dirname, '..', '..', 'index.ts')
const hello = path.resolve(import.meta.dirname, '..', '..', '..', 'fixtures', 'hello')
const R1 = '6.1.0-56-amd64'
const R2 = '6.12.117+deb12-amd64'

const spec = (extra = '') => `import { test } from 'vitest'
import { kernel } from ${JSON.stringify(entry)}

test('hello_api loads', async () => {
  await kernel({ modules: ${JSON.stringify(hello)} }).insmod('hello_api').expectDmesg('[hello_api] Hello, World!')
})

test('hello_api is # not loaded <&>', async () => {
  await kernel({ modules: ${JSON.stringify(hello)} }).insmod('hello_api').expectNotLoaded('hello_api')
})

test.skip('later', () => {})
${extra}`

async function run(argv: string[], cwd: string) {
  let out = ''
  let err = ''
  const code = await runSpecs(argv, { cwd, stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, env: {} })
  return { code, out, err }
}

/** Checks KTAP version 1 as Documentation/dev-tools/ktap.rst defines it; returns the tree of results. */
export function checkKtap(text: string): Array<{ ok: boolean; name: string; directive?: string; children?: unknown[] }> {
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  let i = 0
  const block = (indent: string): { failed: boolean; results: Array<{ ok: boolean; name: string; directive?: string; children?: unknown[] }> } => {
    if (lines[i] !== `${indent}KTAP version 1`) throw new Error(`line ${i + 1}: expected '${indent}KTAP version 1', got '${lines[i]}'`)
    i++
    while (lines[i]?.startsWith(`${indent}#`)) i++
    const plan = new RegExp(`^${indent}1\\.\\.(\\d+)$`).exec(lines[i] ?? '')
    if (!plan) throw new Error(`line ${i + 1}: expected a plan '1..N', got '${lines[i]}'`)
    i++
    const planned = Number(plan[1])
    const results: Array<{ ok: boolean; name: string; directive?: string; children?: unknown[] }> = []
    let failed = false
    let children: { failed: boolean; results: unknown[] } | undefined
    while (results.length < planned) {
      const line = lines[i]
      if (line === undefined) throw new Error(`${planned} tests planned at indent ${indent.length}, ${results.length} found`)
      if (line === `${indent}  KTAP version 1`) {
        children = block(`${indent}  `)
        continue
      }
      if (line.startsWith(`${indent}#`)) {
        i++
        continue
      }
      const m = new RegExp(`^${indent}(ok|not ok) (\\d+)(?: ([^#]*[^# ]))?(?: # (?:(SKIP|TODO|XFAIL|TIMEOUT|ERROR)\\b)?.*)?$`).exec(line)
      if (!m) throw new Error(`line ${i + 1}: not a KTAP line at indent ${indent.length}: '${line}'`)
      if (Number(m[2]) !== results.length + 1) throw new Error(`line ${i + 1}: test number ${m[2]}, expected ${results.length + 1}`)
      const ok = m[1] === 'ok'
      if (children?.failed && ok) throw new Error(`line ${i + 1}: a test whose subtests failed is 'ok'`)
      if (!ok && m[4] !== 'SKIP') failed = true
      results.push({ ok, name: m[3] ?? '', ...(m[4] ? { directive: m[4] } : {}), ...(children ? { children: children.results } : {}) })
      children = undefined
      i++
    }
    return { failed, results }
  }
  const top = block('')
  if (i !== lines.length) throw new Error(`line ${i + 1}: output after the last planned test: '${lines[i]}'`)
  return top.results
}

/** The JUnit XML as Python's ElementTree reads it: suites with their counts, cases with what they hold. */
async function parseJunit(file: string) {
  const script = `import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
print(json.dumps({'tag': root.tag, 'attrs': root.attrib, 'suites': [{'attrs': s.attrib, 'properties': {p.get('name'): p.get('value') for p in s.iter('property')},
  'cases': [{'name': c.get('name'), 'classname': c.get('classname'), 'children': [e.tag for e in c], 'failure': (c.find('failure').get('message') if c.find('failure') is not None else None),
    'failureText': (c.find('failure').text if c.find('failure') is not None else None), 'out': (c.find('system-out').text if c.find('system-out') is not None else None)} for c in s.findall('testcase')]} for s in root.findall('testsuite')]}))`
  const r = await execa('python3', ['-c', script, file])
  return JSON.parse(r.stdout) as {
    tag: string
    attrs: Record<string, string>
    suites: Array<{
      attrs: Record<string, string>
      properties: Record<string, string>
      cases: Array<{ name: string; classname: string; children: string[]; failure: string | null; failureText: string | null; out: string | null }>
    }>
  }
}

let project: DirectoryResult
beforeAll(async () => {
  // The matrix needs a second kernel's headers: installed here as 'kmodspec setup' installs them (nothing when present).
  const out = { write: (t: string) => process.stderr.write(t) }
  expect(await setup(['--if-missing', '--release', R2], { stdout: out, stderr: out, aptOutput: 'ignore' })).toBe(0)
  project = await tmpDir({ prefix: 'kmodspec-reporters-', unsafeCleanup: true })
  await mkdir(path.join(project.path, 'specs'))
  await writeFile(path.join(project.path, 'specs', 'hello.spec.ts'), spec())
}, 600_000)
afterAll(() => project?.cleanup())

describe('a matrix over two releases', () => {
  let result: { code: number; out: string; err: string }
  beforeAll(async () => {
    result = await run(
      [
        '--release',
        `${R1},${R2}`,
        '--reporter',
        'default',
        '--reporter',
        'junit',
        '--reporter',
        'ktap,json',
        '--output-file',
        'junit=out/junit.xml',
        '--output-file',
        'ktap=out/ktap.txt',
        '--output-file',
        'json=out/report.json',
      ],
      project.path,
    )
  }, 300_000)

  test('the terminal shows one row per spec and a column per release, then each failure', () => {
    expect(result.err).toBe('')
    expect(result.code).toBe(1)
    // A cold cache in CI adds kbuild's progress lines (one per fixture directory built for R2, then a blank one)
    // before the report: not what this test is about.
    const lines = result.out.replace(/^(?:kmodspec: KBUILD .*\n)+\n/m, '').split('\n')
    expect(lines[0]).toBe(`kmodspec run: specs on the sim kernel, releases ${R1}, ${R2}`)
    expect(lines.slice(2, 7)).toEqual([
      `specs/hello.spec.ts              ${R1}  ${R2}`,
      '  hello_api loads                ✓               ✓',
      '  hello_api is # not loaded <&>  ✗               ✗',
      `    ✗ hello_api is # not loaded <&> on ${R1}`,
      "      kernel(sim).expectNotLoaded('hello_api') failed",
    ])
    expect(result.out).toContain(`    ✗ hello_api is # not loaded <&> on ${R2}\n      kernel(sim).expectNotLoaded('hello_api') failed\n`)
    expect(result.out).toContain(`\n        $ insmod ${hello}/hello_api.ko  exit 0\n`)
    // On R2 the module is kmodspec's own fixture, built for R2 in the cache's per-release fixture tree.
    expect(result.out).toMatch(new RegExp(`\\n {8}\\$ insmod .*/${R2.replace(/[.+]/g, '\\$&')}/[0-9a-f]{16}/fixtures/hello/hello_api\\.ko  exit 0\\n`))
    expect(lines.slice(-8)).toEqual([
      '  later                          -               -',
      '',
      '2/6 spec runs passed (3 specs × 2 releases) in 1 file(s) on sim: 2 failed',
      '(kmodspec run --verbose shows the commands each spec ran and the kernel log lines they caused)',
      'kmodspec run: junit report written to out/junit.xml',
      'kmodspec run: ktap report written to out/ktap.txt',
      'kmodspec run: json report written to out/report.json',
      '',
    ])
  })

  test('JUnit: a testsuite per file and release, a testcase per spec and release, failure with the transcript', async () => {
    const junit = await parseJunit(path.join(project.path, 'out', 'junit.xml'))
    expect(junit.tag).toBe('testsuites')
    expect(junit.attrs).toMatchObject({ name: 'kmodspec', tests: '6', failures: '2', errors: '0', skipped: '2' })
    expect(junit.suites.map((s) => [s.attrs.name, s.attrs.tests, s.attrs.failures, s.attrs.skipped, s.properties])).toEqual([
      [`specs/hello.spec.ts [${R1}]`, '3', '1', '1', { backend: 'sim', release: R1 }],
      [`specs/hello.spec.ts [${R2}]`, '3', '1', '1', { backend: 'sim', release: R2 }],
    ])
    const cases = junit.suites[1]!.cases
    expect(cases.map((c) => [c.classname, c.name, c.children])).toEqual([
      ['specs/hello.spec.ts', `hello_api loads [${R2}]`, ['system-out']],
      ['specs/hello.spec.ts', `hello_api is # not loaded <&> [${R2}]`, ['failure', 'system-out']],
      ['specs/hello.spec.ts', `later [${R2}]`, ['skipped']],
    ])
    expect(cases[1]!.failure).toBe("kernel(sim).expectNotLoaded('hello_api') failed")
    expect(cases[1]!.failureText).toMatch(/Expected: {2}hello_api not loaded[\s\S]*Transcript\n.*\$ insmod .*hello_api\.ko/)
    expect(cases[0]!.out).toMatch(new RegExp(`^ {2}\\$ insmod .*/${R2.replace(/[.+]/g, '\\$&')}/[0-9a-f]{16}/fixtures/hello/hello_api\\.ko +exit 0\\n`))
  })

  test('KTAP version 1: a subtest block per release, a result per spec, the failure as # diagnostics', async () => {
    const text = await readFile(path.join(project.path, 'out', 'ktap.txt'), 'utf8')
    expect(checkKtap(text)).toEqual([
      {
        ok: false,
        name: R1,
        children: [
          { ok: true, name: 'specs/hello.spec.ts: hello_api loads' },
          { ok: false, name: 'specs/hello.spec.ts: hello_api is _ not loaded <&>' },
          { ok: true, name: 'specs/hello.spec.ts: later', directive: 'SKIP' },
        ],
      },
      {
        ok: false,
        name: R2,
        children: [
          { ok: true, name: 'specs/hello.spec.ts: hello_api loads' },
          { ok: false, name: 'specs/hello.spec.ts: hello_api is _ not loaded <&>' },
          { ok: true, name: 'specs/hello.spec.ts: later', directive: 'SKIP' },
        ],
      },
    ])
    expect(text.split('\n').slice(0, 6)).toEqual(['KTAP version 1', '# kmodspec run on sim', '1..2', '  KTAP version 1', `  # Subtest: ${R1}`, '  1..3'])
    expect(text).toContain("\n  # kernel(sim).expectNotLoaded('hello_api') failed\n  #\n  # Step:      2/2  after insmod('hello_api')\n")
    expect(text).toContain('\n  # Transcript\n')
  })

  test('json: the report reads back, with each spec on each release', async () => {
    const report = parseReport(await readFile(path.join(project.path, 'out', 'report.json'), 'utf8'), 'report.json')
    expect(report.releases).toEqual([R1, R2])
    expect(report.specs.map((s) => [s.name, s.results[R1]!.status, s.results[R2]!.status])).toEqual([
      ['hello_api loads', 'passed', 'passed'],
      ['hello_api is # not loaded <&>', 'failed', 'failed'],
      ['later', 'skipped', 'skipped'],
    ])
  })
})

describe('shards', () => {
  test('two shards, merged, give the report of one whole run', async () => {
    await writeFile(path.join(project.path, 'specs', 'second.spec.ts'), spec().replace(/hello_api loads/, 'second loads'))
    const whole = await run(['--reporter', 'json', '--output-file', 'whole.json'], project.path)
    expect(whole.code).toBe(1)
    for (const i of [1, 2]) {
      const shard = await run(['--shard', `${i}/2`, '--reporter', 'json', '--output-file', `shards/${i}.json`], project.path)
      expect(shard.out).toBe('')
      expect(shard.err).toBe(`kmodspec run: specs on the sim kernel (shard ${i}/2)\n\nkmodspec run: json report written to shards/${i}.json\n`)
      const part = parseReport(await readFile(path.join(project.path, 'shards', `${i}.json`), 'utf8'), 'shard')
      expect([...new Set(part.specs.map((s) => s.file))]).toHaveLength(1)
    }
    const merged = await run(['--merge-reports', 'shards', '--reporter', 'default', '--reporter', 'json', '--output-file', 'merged.json'], project.path)
    expect(merged.code).toBe(1)
    expect(merged.out).toContain('\n2/6 specs passed in 2 file(s) on sim 6.1.0-56-amd64: 2 failed\n')
    const strip = (r: RunReport) =>
      r.specs.map((s) => [s.file, s.name, Object.entries(s.results).map(([rel, o]) => [rel, o.status, o.failure?.replace(/\d+ms/g, '')])])
    const read = async (f: string) => parseReport(await readFile(path.join(project.path, f), 'utf8'), f)
    expect(strip(await read('merged.json'))).toEqual(strip(await read('whole.json')))
  }, 120_000)

  test.each([
    ['3/2', "kmodspec run: --shard takes INDEX/COUNT with 1 ≤ INDEX ≤ COUNT, like 1/3 (got '3/2')\n"],
    ['0/2', "kmodspec run: --shard takes INDEX/COUNT with 1 ≤ INDEX ≤ COUNT, like 1/3 (got '0/2')\n"],
    ['one', "kmodspec run: --shard takes INDEX/COUNT with 1 ≤ INDEX ≤ COUNT, like 1/3 (got 'one')\n"],
  ])('--shard %s fails with one line', async (shard, message) => {
    expect(await run(['--shard', shard], project.path)).toEqual({ code: 2, out: '', err: message })
  })
})

describe('bad options and inputs: one line each', () => {
  test.each([
    [['--reporter', 'xml'], "kmodspec run: unknown reporter 'xml': use default, junit, ktap, json (repeat --reporter to combine them)\n"],
    [
      ['--reporter', 'junit', '--reporter', 'ktap'],
      'kmodspec run: junit and ktap would both print to the terminal: give the file reporters an --output-file (e.g. --output-file junit=report)\n',
    ],
    [
      ['--reporter', 'junit', '--reporter', 'ktap', '--output-file', 'r.xml'],
      'kmodspec run: --output-file r.xml: several reporters write files (junit, ktap): say which, e.g. --output-file junit=r.xml\n',
    ],
    [['--output-file', 'r.xml'], 'kmodspec run: --output-file r.xml: no file reporter to write it (add --reporter junit, ktap or json)\n'],
    [['--merge-reports', 'nothing-here'], `kmodspec run: --merge-reports: no such file or directory: ${'<project>'}/nothing-here\n`],
    [
      ['--release', '6.99.0-1-amd64'],
      "kmodspec run: --release: kernel release 6.99.0-1-amd64 is not installed (installed: <installed>): add it with 'kmodspec setup --release 6.99.0-1-amd64'\n",
    ],
    [
      ['nonexistent.spec.ts'],
      "kmodspec run: no spec file matched 'nonexistent.spec.ts' (no such file: nonexistent.spec.ts) in <project>: name spec files that exist (vitest's include patterns apply, e.g. *.spec.ts)\n",
    ],
  ])(
    '%j',
    async (argv, message) => {
      const { installedReleases } = await import('../releases.js')
      const r = await run(argv, project.path)
      expect(r.code).toBe(2)
      expect(
        r.err
          .split(project.path)
          .join('<project>')
          .replace(
            `installed: ${installedReleases()
              .map((x) => x.release)
              .join(', ')}`,
            'installed: <installed>',
          ),
      ).toBe(message)
    },
    60_000,
  )
})

test('the KTAP checker itself refuses what the grammar forbids', () => {
  expect(() => checkKtap('KTAP version 1\n1..2\nok 1 a\n')).toThrow('2 tests planned at indent 0, 1 found')
  expect(() => checkKtap('KTAP version 1\n1..1\nok 2 a\n')).toThrow('test number 2, expected 1')
  expect(() => checkKtap('KTAP version 1\n1..1\n  KTAP version 1\n  1..1\n  not ok 1 a\nok 1 r\n')).toThrow("a test whose subtests failed is 'ok'")
  expect(() => checkKtap('1..1\nok 1 a\n')).toThrow("expected 'KTAP version 1'")
  expect(() => checkKtap('KTAP version 1\n1..1\nok 1 a\nok 2 b\n')).toThrow('output after the last planned test')
})

test('a spec file that failed to load: <error> in JUnit, not ok # ERROR in KTAP; control characters do not break the XML', async () => {
  const { addRun, emptyReport } = await import('./model.js')
  const { formatJunit } = await import('./junit.js')
  const { formatKtap } = await import('./ktap.js')
  const report = emptyReport('qemu')
  const broken = { numTotalTests: 1, numPassedTests: 1, numFailedTests: 0, numTotalTestSuites: 2, numFailedTestSuites: 1, success: false }
  addRun(
    report,
    R1,
    {
      ...broken,
      testResults: [
        {
          name: '/p/specs/broken.spec.ts',
          status: 'failed',
          message: 'SyntaxError: Unexpected token \x1b[31m}\x1b[39m \x07 in /p/specs/broken.spec.ts',
          assertionResults: [],
        },
        {
          name: '/p/specs/ok.spec.ts',
          status: 'passed',
          message: '',
          assertionResults: [{ ancestorTitles: [], title: 'fine', status: 'passed', failureMessages: [], duration: 12.4 }],
        },
      ],
    },
    [],
    '/p',
  )
  const file = path.join(project.path, 'broken.xml')
  await writeFile(file, formatJunit(report))
  const junit = await parseJunit(file)
  expect(junit.attrs).toMatchObject({ tests: '2', failures: '0', errors: '1' })
  expect(junit.suites.map((s) => [s.attrs.name, s.attrs.errors, s.cases.map((c) => [c.name, c.children])])).toEqual([
    [`specs/broken.spec.ts [${R1}]`, '1', [[`specs/broken.spec.ts failed to load [${R1}]`, ['error']]]],
    [`specs/ok.spec.ts [${R1}]`, '0', [[`fine [${R1}]`, []]]],
  ])
  const ktap = formatKtap(report)
  expect(checkKtap(ktap)).toEqual([
    {
      ok: false,
      name: R1,
      children: [
        { ok: false, name: 'specs/broken.spec.ts: failed to load', directive: 'ERROR' },
        { ok: true, name: 'specs/ok.spec.ts: fine' },
      ],
    },
  ])
  expect(ktap).toContain('\n  # SyntaxError: Unexpected token } \uFFFD in /p/specs/broken.spec.ts\n')
})
