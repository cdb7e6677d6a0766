import { existsSync, readdirSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { BuildError, buildModules, resolveHeaders } from './kbuild.js'
import { findSection } from './modinfo-patch.js'

// The release the committed fixtures are built for; its headers are installed on this machine.
const release = '6.1.0-56-amd64'

/** The .modinfo entries of a built module, as key=value strings. */
async function modinfo(ko: string): Promise<string[]> {
  const elf = await readFile(ko)
  const section = findSection(elf, '.modinfo')!
  return elf
    .subarray(section.offset, section.offset + section.size)
    .toString('latin1')
    .split('\0')
    .filter(Boolean)
}

const exporter = `// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
void tiny_hello(void) { pr_info("[tiny] hello\\n"); }
EXPORT_SYMBOL(tiny_hello);
MODULE_LICENSE("GPL");
`
const importer = `// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
extern void tiny_hello(void);
static int __init tiny_user_init(void) { tiny_hello(); return 0; }
module_init(tiny_user_init);
MODULE_LICENSE("GPL");
`

let scratch: string
let tmp: string
let savedTmpdir: string | undefined

beforeEach(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'kmodspec-kbuild-test-'))
  // A TMPDIR of our own, so the test can see that buildModules leaves nothing in it.
  tmp = join(scratch, 'tmp')
  await mkdir(tmp)
  savedTmpdir = process.env.TMPDIR
  process.env.TMPDIR = tmp
})

afterEach(async () => {
  if (savedTmpdir === undefined) delete process.env.TMPDIR
  else process.env.TMPDIR = savedTmpdir
  await rm(scratch, { recursive: true, force: true })
})

async function moduleDir(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(scratch, name)
  await mkdir(dir, { recursive: true })
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text)
  return dir
}

describe('buildModules', () => {
  test('builds a tiny module into outDir, leaves the sources clean and no temp dir behind', async () => {
    const dir = await moduleDir('tiny', { 'tiny.c': exporter, Kbuild: 'obj-m += tiny.o\n' })
    const out = join(scratch, 'out')
    const symvers = join(scratch, 'tiny.symvers')
    const kos = await buildModules(dir, { release, outDir: out, symversFile: symvers, progress: false })

    expect(kos).toEqual([join(out, 'tiny.ko')])
    expect((await readFile(kos[0]!)).subarray(0, 4)).toEqual(Buffer.from('\x7fELF', 'latin1'))
    expect(await modinfo(kos[0]!)).toContain('name=tiny')
    expect((await readFile(symvers, 'utf8')).split('\t').slice(1, 2)).toEqual(['tiny_hello'])
    expect(readdirSync(dir).sort()).toEqual(['Kbuild', 'tiny.c'])
    expect(readdirSync(tmp)).toEqual([])
  })

  test('puts the .ko beside the sources by default', async () => {
    const dir = await moduleDir('tiny', { 'tiny.c': exporter, Kbuild: 'obj-m += tiny.o\n' })
    expect(await buildModules(dir, { release, progress: false })).toEqual([join(dir, 'tiny.ko')])
    expect(readdirSync(dir).sort()).toEqual(['Kbuild', 'tiny.c', 'tiny.ko'])
  })

  test('links against another module through extraSymbols (KBUILD_EXTRA_SYMBOLS)', async () => {
    const symvers = join(scratch, 'tiny.symvers')
    await buildModules(await moduleDir('tiny', { 'tiny.c': exporter, Kbuild: 'obj-m += tiny.o\n' }), {
      release,
      symversFile: symvers,
      progress: false,
    })
    const user = await moduleDir('user', { 'tiny_user.c': importer, Kbuild: 'obj-m += tiny_user.o\n' })

    // Without the exporter's symbols modpost refuses the undefined tiny_hello.
    const failure = await buildModules(user, { release, progress: false }).catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(BuildError)
    expect((failure as BuildError).message).toMatch(/"tiny_hello" \[.*tiny_user\.ko\] undefined/)

    const [ko] = await buildModules(user, { release, extraSymbols: [symvers], progress: false })
    expect(await modinfo(ko!)).toContain('depends=tiny')
    expect(readdirSync(tmp)).toEqual([])
  })

  test("a compile error carries the compiler's output, naming the source, not the temp copy", async () => {
    const dir = await moduleDir('broken', { 'broken.c': '#include <linux/module.h>\nint broken(void) { return nope; }\n', Kbuild: 'obj-m += broken.o\n' })
    const error = (await buildModules(dir, { release, progress: false }).catch((e: unknown) => e)) as BuildError
    expect(error).toBeInstanceOf(BuildError)
    expect(error.message).toContain(`${join(dir, 'broken.c')}:2:`)
    expect(error.message).toMatch(/.nope. undeclared/)
    expect(error.message).not.toContain(tmp)
    expect(readdirSync(tmp)).toEqual([])
  })

  test('says which Debian package to install when the headers are missing', async () => {
    const dir = await moduleDir('tiny', { 'tiny.c': exporter, Kbuild: 'obj-m += tiny.o\n' })
    await expect(buildModules(dir, { release: '9.9.9-kmodspec-none', progress: false })).rejects.toThrow(
      "kernel headers for 9.9.9-kmodspec-none are not installed (no /lib/modules/9.9.9-kmodspec-none/build): install them with 'apt-get install linux-headers-9.9.9-kmodspec-none'",
    )
    expect(() => resolveHeaders({ headersDir: dir })).toThrow(`${dir} is not a kernel headers tree (no Makefile there)`)
  })

  test('rejects a directory without a Kbuild file or one that builds nothing', async () => {
    const bare = await moduleDir('bare', { 'tiny.c': exporter })
    await expect(buildModules(bare, { release, progress: false })).rejects.toThrow(`${bare} has no Kbuild or Makefile: add a Kbuild file`)
    await expect(buildModules(join(scratch, 'absent'), { release })).rejects.toThrow('does not exist')
    const missing = join(scratch, 'none.symvers')
    const dir = await moduleDir('tiny', { 'tiny.c': exporter, Kbuild: 'obj-m += tiny.o\n' })
    await expect(buildModules(dir, { release, extraSymbols: [missing] })).rejects.toThrow(`extra symbols file ${missing} does not exist`)
    expect(existsSync(join(dir, 'tiny.ko'))).toBe(false)
  })
})
