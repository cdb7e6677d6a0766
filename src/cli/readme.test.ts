// The README's spec examples run as written on the simulator, so their kernel texts cannot go stale.
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'
import { withDir } from 'tmp-promise'
import { expect, test } from 'vitest'
import { runSpecs } from './run.js'

const root = path.resolve(import.meta.dirname, '..', '..')

// The module the README's "Writing a spec for your own module" describes.
const myModuleC = `#include <linux/module.h>
#include <linux/printk.h>

static int debug;
module_param(debug, int, 0644);

static int __init my_module_init(void)
{
	pr_info("my_module: ready\\n");
	return 0;
}

static void __exit my_module_exit(void)
{
	pr_info("my_module: bye\\n");
}

module_init(my_module_init);
module_exit(my_module_exit);
MODULE_LICENSE("GPL");
`

test("the README's spec examples pass on the simulator as written", async () => {
  const readme = await readFile(path.join(root, 'README.md'), 'utf8')
  const examples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!.replace(/^ {3}/gm, ''))
  const specs = examples.filter((e) => /from 'kmodspec(\/vitest)?'/.test(e) && e.includes('test('))
  expect(specs).toHaveLength(5)
  const saved = process.env.XDG_CACHE_HOME
  await withDir(
    async ({ path: dir }) => {
      process.env.XDG_CACHE_HOME = path.join(dir, 'cache')
      await mkdir(path.join(dir, 'specs'))
      await mkdir(path.join(dir, 'my_module'))
      await writeFile(path.join(dir, 'my_module', 'my_module.c'), myModuleC)
      await writeFile(path.join(dir, 'my_module', 'Makefile'), 'obj-m += my_module.o\n')
      await symlink(path.join(root, 'fixtures'), path.join(dir, 'fixtures'))
      for (const [i, text] of specs.entries()) {
        const source = text
          .replace("from 'kmodspec/vitest'", `from ${JSON.stringify(path.join(root, 'src', 'vitest', 'index.ts'))}`)
          .replace("from 'kmodspec'", `from ${JSON.stringify(path.join(root, 'src', 'index.ts'))}`)
        await writeFile(path.join(dir, 'specs', `readme-${i}.spec.ts`), source)
      }
      let out = ''
      // A cold kbuild of my_module may take longer than vitest's default 5 s on a busy machine.
      const code = await runSpecs(['--', '--testTimeout=120000'], {
        cwd: dir,
        stdout: { write: (t: string) => (out += t) },
        stderr: { write: (t: string) => (out += t) },
      })
      // The 6.12-only describe block is skipped on the default release.
      expect(out).toContain('5/6 specs passed in 5 file(s) on sim 6.1.0-56-amd64: all passed')
      expect(code).toBe(0)
    },
    { unsafeCleanup: true, prefix: 'kmodspec-readme-test-' },
  ).finally(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME
    else process.env.XDG_CACHE_HOME = saved
  })
})
