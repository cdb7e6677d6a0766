// depmod touches no kernel: kmod 30's depmod -b on this host is its judge, on the same sysroot.
import { execa } from 'execa'
import { join } from 'node:path'
import { dir as tmpDir } from 'tmp-promise'
import { describe, expect, test } from 'vitest'
import { buildSyntheticModule } from '../../elf/write.js'
import { hostRun, layout, R, removeIndexes, simRun, snapshot } from './kmod30-judge.js'

const M = `lib/modules/${R}`
const api = { copy: 'fixtures/hello/hello_api.ko' }
const feature = { copy: 'fixtures/hello/hello_feature.ko' }
const demo = { copy: 'fixtures/modprobe/modprobe_demo.ko' }

/** Run depmod with argv on the host, then (indexes removed) on the simulator; both outcomes and trees. */
async function judge(files: Parameters<typeof layout>[1], argv: string[] = ['depmod', R], prepare?: (root: string) => Promise<void>) {
  const t = await tmpDir({ unsafeCleanup: true })
  try {
    layout(t.path, files)
    await prepare?.(t.path)
    const real = await hostRun(t.path, argv)
    const realTree = snapshot(t.path)
    removeIndexes(t.path)
    const sim = simRun(t.path, argv)
    const simTree = snapshot(t.path)
    return { real, sim, realTree, simTree }
  } finally {
    await t.cleanup()
  }
}

async function expectSame(files: Parameters<typeof layout>[1], argv?: string[], prepare?: (root: string) => Promise<void>) {
  const r = await judge(files, argv, prepare)
  expect(r.sim).toEqual(r.real)
  expect(Object.keys(r.simTree)).toEqual(Object.keys(r.realTree))
  for (const f of Object.keys(r.realTree)) expect(r.simTree[f], f).toBe(r.realTree[f])
  return r
}

const behaviour = { init: { actions: [], returns: 0 }, functions: {} }
/** A .ko-shaped module exporting and importing the given symbols. */
const ko = (name: string, exports: string[], imports: string[]) =>
  buildSyntheticModule({
    name,
    license: 'GPL',
    vermagic: `${R} SMP preempt mod_unload modversions `,
    exports: exports.map((n) => ({ name: n, gpl: false })),
    imports,
    behaviour,
  })

describe('depmod.d: search, override, external, exclude (kmod 30 depmod -b is the judge)', () => {
  test('default: updates/ beats kernel/ and extra/', async () => {
    await expectSame({
      [`${M}/kernel/hello_api.ko`]: api,
      [`${M}/updates/hello_api.ko`]: api,
      [`${M}/extra/hello_api.ko`]: api,
      [`${M}/extra/hello_feature.ko`]: feature,
    })
  })
  test('search extra updates built-in: the first named wins', async () => {
    const r = await expectSame({
      'etc/depmod.d/a.conf': 'search extra updates built-in\n',
      [`${M}/kernel/hello_api.ko`]: api,
      [`${M}/updates/hello_api.ko`]: api,
      [`${M}/extra/hello_api.ko`]: api,
      [`${M}/kernel/hello_feature.ko`]: feature,
    })
    expect(Buffer.from(r.realTree[`${M}/modules.dep`]!, 'base64').toString()).toContain('extra/hello_api.ko:')
  })
  test('search built-in updates: kernel/ before updates/', async () => {
    await expectSame({ 'etc/depmod.d/a.conf': 'search built-in updates\n', [`${M}/kernel/hello_api.ko`]: api, [`${M}/updates/hello_api.ko`]: api })
  })
  test('two files: name order, later search lines rank higher', async () => {
    await expectSame({
      'etc/depmod.d/10-b.conf': 'search updates\n',
      'etc/depmod.d/05-a.conf': 'search extra\n',
      [`${M}/updates/hello_api.ko`]: api,
      [`${M}/extra/hello_api.ko`]: api,
      [`${M}/kernel/hello_api.ko`]: api,
    })
  })
  test('override by kernel version (regex) beats search', async () => {
    await expectSame({
      'etc/depmod.d/o.conf': `override hello_api ${R.replace(/\./g, '\\.')} kernel\noverride hello_feature 9\\..* extra\n`,
      [`${M}/kernel/hello_api.ko`]: api,
      [`${M}/updates/hello_api.ko`]: api,
      [`${M}/kernel/hello_feature.ko`]: feature,
      [`${M}/updates/hello_feature.ko`]: feature,
    })
  })
  test('exclude: a directory name skipped at any depth', async () => {
    await expectSame({
      'etc/depmod.d/x.conf': 'exclude skipme other\n',
      [`${M}/kernel/skipme/hello_api.ko`]: api,
      [`${M}/extra/hello_feature.ko`]: feature,
      [`${M}/extra/other`]: 'x',
    })
  })
  test('bad lines are reported with file and line; unknown commands too', async () => {
    await expectSame({
      'etc/depmod.d/bad.conf': '# c\nfrobnicate x\noverride onlyname\n\nexternal *\ninclude /x\nsearch \\\n  extra\n',
      [`${M}/extra/hello_api.ko`]: api,
    })
  })
  test('external directories: searched after the tree, listed by full path, ranked by the search list', async () => {
    const t = await tmpDir({ unsafeCleanup: true })
    try {
      layout(t.path, { 'ext/hello_api.ko': api, 'ext/sub/modprobe_demo.ko': demo })
      const ext = join(t.path, 'ext')
      await expectSame({
        'etc/depmod.d/e.conf': `external * ${ext}\nexternal * /nonexistent-kmodspec\nsearch external built-in\n`,
        [`${M}/kernel/hello_api.ko`]: api,
        [`${M}/kernel/hello_feature.ko`]: feature,
      })
      await expectSame({
        'etc/depmod.d/e.conf': `external 5\\..* ${ext}\nexternal * ${ext}\n`,
        [`${M}/kernel/hello_api.ko`]: api,
        [`${M}/kernel/hello_feature.ko`]: feature,
      })
    } finally {
      await t.cleanup()
    }
  })
})

describe('depmod reads compressed modules (.ko.xz, .ko.zst made with xz and zstd)', () => {
  const compress = async (root: string) => {
    await execa('xz', ['--check=crc32', '--lzma2=dict=1MiB', join(root, M, 'kernel/hello_api.ko')])
    await execa('zstd', ['-q', '--rm', join(root, M, 'extra/hello_feature.ko')])
  }
  test('.ko.xz and .ko.zst: dependencies, aliases, symbols, and modules.order matched without the suffix', async () => {
    await expectSame(
      {
        [`${M}/kernel/hello_api.ko`]: api,
        [`${M}/extra/hello_feature.ko`]: feature,
        [`${M}/extra/modprobe_demo.ko`]: demo,
        [`${M}/modules.order`]: 'extra/hello_feature.ko\nkernel/hello_api.ko\n',
      },
      undefined,
      compress,
    )
  })
  test('.ko.gz is not a module to a -ZLIB kmod; a corrupt .ko.xz fails to load symbols', async () => {
    await expectSame({
      [`${M}/kernel/hello_api.ko.gz`]: 'not really gzip',
      [`${M}/kernel/bad.ko.xz`]: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 1, 2, 3]),
      [`${M}/extra/hello_feature.ko`]: feature,
    })
  })
})

describe('depmod -n and -C', () => {
  test('-n prints the text files to stdout, compressed modules included', async () => {
    await expectSame(
      { [`${M}/kernel/hello_api.ko`]: api, [`${M}/extra/hello_feature.ko`]: feature, [`${M}/extra/modprobe_demo.ko`]: demo },
      ['depmod', '-n', R],
      async (root) => {
        await execa('xz', [join(root, M, 'kernel/hello_api.ko')])
      },
    )
  })
  test('-C names one file', async () => {
    const r = await judge({ 'etc/depmod.d/one.conf': 'search extra\n', [`${M}/kernel/hello_api.ko`]: api, [`${M}/extra/hello_api.ko`]: api }, ['depmod', R])
    expect(r.sim).toEqual(r.real)
  })
})

describe('depmod options: -e with -E or -F, -v, -P, deprecated options, a bad version, module files', () => {
  const files = {
    [`${M}/extra/hello_feature.ko`]: feature,
    [`${M}/extra/hello_api.ko`]: api,
    [`${M}/extra/modprobe_demo.ko`]: demo,
    'Module.symvers':
      '0x12345678\tapi_test\tvmlinux\tEXPORT_SYMBOL\t\n0xbdfb6dbb\t__fentry__\tvmlinux\tEXPORT_SYMBOL\t\nzzz\tbad_crc\tvmlinux\tEXPORT_SYMBOL\n0x1\tother\tdrivers/x\tEXPORT_SYMBOL\n',
    'System.map': 'ffffffff81000000 T _stext\nffffffff82000000 r __ksymtab__printk\nbroken\n',
  }
  const cases: Array<(root: string) => string[]> = [
    () => ['depmod', '-e', R],
    (r) => ['depmod', '-e', '-E', `${r}/Module.symvers`, R],
    (r) => ['depmod', '-E', `${r}/Module.symvers`, R],
    (r) => ['depmod', '-e', '-F', `${r}/System.map`, R],
    (r) => ['depmod', '-e', '-E', `${r}/nothing.symvers`, R],
    () => ['depmod', '-v', R],
    () => ['depmod', '-P', 'ab', R],
    () => ['depmod', '-u', '--quiet', '-r', '--map', R],
    () => ['depmod', 'notaversion'],
    (r) => ['depmod', R, `${r}/${M}/extra/hello_feature.ko`, `${r}/${M}/extra/hello_api.ko`],
    () => ['depmod', R, 'relative/x.ko'],
    (r) => ['depmod', R, `${r}/nothing.ko`],
  ]
  for (const [i, argvOf] of cases.entries()) {
    test(argvOf('ROOT').join(' '), async () => {
      const t = await tmpDir({ unsafeCleanup: true })
      try {
        layout(t.path, files)
        // the files named in argv are the same for both: absolute paths inside the shared sysroot
        const argv = argvOf(t.path)
        const real = await hostRun(t.path, argv)
        const realTree = snapshot(t.path)
        removeIndexes(t.path)
        const simArgv = argv.map((a) => (a.startsWith(`${t.path}/${M}`) ? a.slice(t.path.length) : a))
        const sim = simRun(t.path, simArgv)
        expect({ ...sim, stderr: sim.stderr.replaceAll(t.path, '') }, `case ${i}`).toEqual(real)
        expect(snapshot(t.path)).toEqual(realTree)
      } finally {
        await t.cleanup()
      }
    })
  }
})

describe('dependency cycles fail as kmod 30 fails: each cycle, a count, exit 1, no index written', () => {
  test('a -> b -> a, with a module both use', async () => {
    await expectSame({
      [`${M}/extra/cyc_a.ko`]: ko('cyc_a', ['fa'], ['fb']),
      [`${M}/extra/cyc_b.ko`]: ko('cyc_b', ['fb'], ['fa', 'fc']),
      [`${M}/extra/cyc_c.ko`]: ko('cyc_c', ['fc'], []),
    })
  })
  test("kmod's detect-loop shape: overlapping cycles, reported in the order kmod's ring lists give", async () => {
    const graph: Record<string, string[]> = { a: ['b'], b: ['c'], c: ['a'], d: ['e'], e: ['d'], f: [], g: [], h: ['i'], i: ['j'], j: ['h', 'k'], k: ['h'] }
    const files = Object.fromEntries(
      Object.entries(graph).map(([n, uses]) => [
        `${M}/kernel/mod-loop-${n}.ko`,
        ko(
          `mod_loop_${n}`,
          [`print${n.toUpperCase()}`],
          uses.map((u) => `print${u.toUpperCase()}`),
        ),
      ]),
    )
    const r = await expectSame(files)
    expect(r.real.stderr).toContain('Found 9 modules in dependency cycles!')
  })
  test('two cycles and a module hanging off one', async () => {
    await expectSame({
      [`${M}/extra/a.ko`]: ko('a', ['fa'], ['fb']),
      [`${M}/extra/b.ko`]: ko('b', ['fb'], ['fc']),
      [`${M}/extra/c.ko`]: ko('c', ['fc'], ['fa', 'fd']),
      [`${M}/extra/d.ko`]: ko('d', ['fd'], []),
      [`${M}/extra/x.ko`]: ko('x', ['fx'], ['fy']),
      [`${M}/extra/y.ko`]: ko('y', ['fy'], ['fx']),
      [`${M}/extra/user.ko`]: ko('user', [], ['fx']),
    })
  })
})
