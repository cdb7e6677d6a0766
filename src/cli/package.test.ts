// The package as users get it: npm pack, install the tarball into a fresh project, use each entry point.
import { copyFile, readFile, writeFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { dir as tmpDir, type DirectoryResult } from 'tmp-promise'
import { afterAll, beforeAll, expect, test } from 'vitest'

const root = path.resolve(import.meta.dirname, '..', '..')

const script = `insmod node_modules/kmodspec/fixtures/hello/hello_api.ko
lsmod
rmmod hello_api
`

const check = `import { kernel, KmodspecError } from 'kmodspec'
const run = await kernel({ modules: 'node_modules/kmodspec/fixtures/hello' })
  .insmod('hello_api').expectDmesg('[hello_api] Hello, World!')
  .insmod('hello_feature').expectLoaded('hello_api', { refcount: 1, holders: ['hello_feature'] })
console.log(run.backend, run.release, run.modules.map((m) => m.name).join(' '), typeof KmodspecError)
`

const spec = `import { expect, test } from 'vitest'
import { useKernel } from 'kmodspec/vitest'

const k = useKernel({ modules: 'node_modules/kmodspec/fixtures/hello' })

test('hello_feature holds hello_api', async () => {
  const run = await k().insmod('hello_api').insmod('hello_feature')
  expect(run).toHaveRefcount('hello_api', 1)
  expect(run).toHaveHolders('hello_api', ['hello_feature'])
})
`

// Packed once for every test below: the package as users get it, installed in new projects.
let packed: { dir: DirectoryResult; tarball: string; vitest: string; files: string[] }
// kept apart from `packed`: a failed npm pack must not leave the directory behind
let packDir: DirectoryResult | undefined
beforeAll(async () => {
  const dir = (packDir = await tmpDir({ unsafeCleanup: true, prefix: 'kmodspec-package-test-' }))
  const r = await execa('npm', ['pack', '--json', '--pack-destination', dir.path], { cwd: root })
  const [{ filename, files }] = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as [{ filename: string; files: Array<{ path: string }> }]
  const vitest = JSON.parse(await readFile(path.join(root, 'node_modules', 'vitest', 'package.json'), 'utf8')).version as string
  packed = { dir, tarball: path.join(dir.path, filename), vitest, files: files.map((f) => f.path) }
}, 300_000)
afterAll(() => packDir?.cleanup())

/** A new project with these packages installed. */
async function project(name: string, packages: string[]): Promise<string> {
  const dir = path.join(packed.dir.path, name)
  await mkdir(dir)
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }))
  await execa('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...packages], { cwd: dir })
  return dir
}

test('the packed tarball installs and works: kmodspec sh, import { kernel }, kmodspec/vitest and kmodspec run', async () => {
  const paths = packed.files
  expect(paths).toEqual(
    expect.arrayContaining([
      'dist/cli/kmodspec.cjs',
      'dist/cli/kmodspec-bundle.cjs',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/vitest/index.js',
      'dist/vitest/index.d.ts',
      'fixtures/hello/hello_api.ko',
      'README.md',
    ]),
  )
  expect(paths.filter((p) => /\.test(-d)?\.(js|d\.ts)$/.test(p))).toEqual([])

  const project = path.join(packed.dir.path, 'project')
  await mkdir(project)
  await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'my-module-specs', private: true, type: 'module' }))
  await execa('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', packed.tarball, `vitest@${packed.vitest}`], { cwd: project })

  await writeFile(path.join(project, 'hello.sh'), script)
  const sh = await execa('npx', ['kmodspec', 'sh', 'hello.sh'], { cwd: project, reject: false })
  expect(sh.exitCode).toBe(0)
  expect(sh.stdout.replace(/^\[ *\d+\.\d+\] /gm, '')).toBe(
    [
      '$ insmod node_modules/kmodspec/fixtures/hello/hello_api.ko',
      'hello_api: loading out-of-tree module taints kernel.',
      'hello_api: module verification failed: signature and/or required key missing - tainting kernel',
      '[hello_api] Hello, World!',
      '$ lsmod',
      'Module                  Size  Used by',
      'hello_api              16384  0',
      '$ rmmod hello_api',
      '[hello_api] Bye bye, World!',
    ].join('\n'),
  )

  await writeFile(path.join(project, 'check.mjs'), check)
  const node = await execa('node', ['check.mjs'], { cwd: project })
  expect(node.stdout).toBe('sim 6.1.0-56-amd64 hello_feature hello_api function')

  const resolved = await execa('node', ['--input-type=module', '-e', "console.log(import.meta.resolve('kmodspec/vitest'))"], { cwd: project })
  expect(resolved.stdout).toBe(`file://${project}/node_modules/kmodspec/dist/vitest/index.js`)

  await mkdir(path.join(project, 'specs'))
  await writeFile(path.join(project, 'specs', 'hello.spec.ts'), spec)
  const run = await execa('npx', ['kmodspec', 'run'], { cwd: project, reject: false })
  // npm's own warnings about this machine's npm config are not ours.
  expect(run.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('npm warn'))).toEqual([])
  expect(run.stdout.split('\n').slice(0, 5)).toEqual([
    'kmodspec run: specs on the sim kernel',
    '',
    'specs/hello.spec.ts',
    '  ✓ hello_feature holds hello_api',
    '',
  ])
  expect(run.exitCode).toBe(0)
}, 300_000)

const ours = (stderr: string) => stderr.split('\n').filter((l) => l !== '' && !l.startsWith('npm warn'))

test('without vitest, kmodspec run says in one line how to install it; setup works from the package', async () => {
  const dir = await project('no-vitest', [packed.tarball])
  await mkdir(path.join(dir, 'specs'))
  await writeFile(path.join(dir, 'specs', 'hello.spec.ts'), spec)
  const run = await execa('npx', ['kmodspec', 'run'], { cwd: dir, reject: false })
  expect(ours(run.stderr)).toEqual(['kmodspec run: vitest is not installed in this project: npm install --save-dev vitest (kmodspec supports vitest >=3)'])
  expect(run.stdout).toBe('')
  expect(run.exitCode).toBe(2)
  const setup = await execa('npx', ['kmodspec', 'setup', '--if-missing'], { cwd: dir, reject: false })
  expect([setup.exitCode, setup.stdout, ours(setup.stderr)]).toEqual([0, '', []])
}, 300_000)

test('kmodspec run of a spec file that does not exist says so in one line, with the pattern', async () => {
  const dir = await project('no-match', [packed.tarball, `vitest@${packed.vitest}`])
  const run = await execa('npx', ['kmodspec', 'run', 'nonexistent.spec.ts'], { cwd: dir, reject: false })
  expect(ours(run.stderr)).toEqual([
    `kmodspec run: no spec file matched 'nonexistent.spec.ts' (no such file: nonexistent.spec.ts) in ${dir}: name spec files that exist (vitest's include patterns apply, e.g. *.spec.ts)`,
  ])
  expect(run.exitCode).toBe(2)
}, 300_000)

test('kmodspec init in a directory with only hello.c and Kbuild, then the packed kmodspec and vitest: npm test passes', async () => {
  const tool = await project('tool', [packed.tarball])
  const dir = path.join(packed.dir.path, 'hello')
  await mkdir(dir)
  await copyFile(path.join(import.meta.dirname, 'testdata', 'hello.c'), path.join(dir, 'hello.c'))
  await writeFile(path.join(dir, 'Kbuild'), 'obj-m += hello.o\n')
  const init = await execa('node', [path.join(tool, 'node_modules', 'kmodspec', 'dist', 'cli', 'main.js'), 'init'], { cwd: dir, reject: false })
  expect(init.stderr).toBe('')
  expect(init.stdout.split('\n').at(-1)).toBe('next: npm install && npm test')
  await execa('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--save-dev', packed.tarball, `vitest@${packed.vitest}`], { cwd: dir })
  const test = await execa('npm', ['test'], { cwd: dir, reject: false, env: { KMODSPEC_BACKEND: 'sim' } })
  expect(test.stdout).toContain(
    'specs/hello.spec.ts\n  ✓ hello › loads and unloads cleanly\n  ✓ hello › modinfo: license, dependencies, parameter types\n  ✓ hello › loads with name, debug set\n',
  )
  expect(test.stdout).toContain('\n3/3 specs passed in 1 file(s) on sim 6.1.0-56-amd64: all passed\n')
  expect(test.exitCode).toBe(0)
}, 300_000)
