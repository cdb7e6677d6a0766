// The package as users get it: npm pack, install the tarball into a fresh project, use each entry point.
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { withDir } from 'tmp-promise'
import { expect, test } from 'vitest'

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

test('the packed tarball installs and works: kmodspec sh, import { kernel }, kmodspec/vitest and kmodspec run', async () => {
  await withDir(
    async ({ path: dir }) => {
      const packed = await execa('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root })
      const [{ filename, files }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>
      const paths = files.map((f) => f.path)
      expect(paths).toEqual(expect.arrayContaining(['dist/cli/main.js', 'dist/index.js', 'dist/index.d.ts', 'dist/vitest/index.js', 'dist/vitest/index.d.ts', 'fixtures/hello/hello_api.ko', 'README.md']))
      expect(paths.filter((p) => /\.test(-d)?\.(js|d\.ts)$/.test(p))).toEqual([])

      const project = path.join(dir, 'project')
      await mkdir(project)
      await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'my-module-specs', private: true, type: 'module' }))
      const vitestVersion = JSON.parse(await readFile(path.join(root, 'node_modules', 'vitest', 'package.json'), 'utf8')).version as string
      await execa('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(dir, filename), `vitest@${vitestVersion}`], { cwd: project })

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
      expect(run.stdout.split('\n').slice(0, 5)).toEqual(['kmodspec run: specs on the sim kernel', '', 'specs/hello.spec.ts', '  ✓ hello_feature holds hello_api', ''])
      expect(run.exitCode).toBe(0)
    },
    { unsafeCleanup: true, prefix: 'kmodspec-package-test-' },
  )
}, 300_000)
