// modprobe's dry runs, -c, --show-* and install commands that load nothing: kmod 30 on this host is
// their judge, over one sysroot both read. Only made-up module names ever run without -n, and their
// install commands are echo, true, false and missing programs: nothing reaches the host's kernel.
import { execa } from 'execa'
import { copyFileSync, existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { dir as tmpDir } from 'tmp-promise'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { hostRun, layout, maskPointers, R, simRun } from './kmod30-judge.js'

const M = `lib/modules/${R}`
const TREE = `/lib/modules/${R}`
let root: string
let cleanup: () => Promise<void>

const CONF = `# what real configurations do
alias my-demo modprobe_demo
alias random hello_api
alias blocked-alias params
blacklist params
options hello-api greeting=x
options\thello_api  second=2\tthird=3
options my_demo via_alias=1
softdep hello_feature pre: modprobe-demo post: params
softdep modprobe_demo post: nothing_such
install fake_ok echo "opts: $CMDLINE_OPTS" 'single $HOME' && /bin/false || echo fell back; echo "module=$MODPROBE_MODULE"
install fake_fail nosuchcmd arg; /usr/bin/nosuch
install fake_false /bin/true && /bin/false
install fake_quiet /bin/echo -n quiet\\
 continued >/dev/null
install hello_feature /sbin/modprobe --ignore-install hello_feature && echo loaded
install modprobe_demo /bin/true
remove fake_rm echo removing $MODPROBE_MODULE; /bin/false
remove fake_rm_ok echo bye
options fake_ok a=1 b="two words"
bogus line here
alias only-one
include /etc/other.conf
`

beforeAll(async () => {
  const t = await tmpDir({ unsafeCleanup: true })
  root = t.path
  cleanup = t.cleanup
  layout(root, {
    [`${M}/extra/hello_api.ko`]: { copy: 'fixtures/hello/hello_api.ko' },
    [`${M}/extra/hello_feature.ko`]: { copy: 'fixtures/hello/hello_feature.ko' },
    [`${M}/extra/modprobe_demo.ko`]: { copy: 'fixtures/modprobe/modprobe_demo.ko' },
    [`${M}/extra/params.ko`]: { copy: 'fixtures/errors/params.ko' },
    [`${M}/modules.builtin`]: { copy: `${TREE}/modules.builtin` },
    [`${M}/modules.builtin.modinfo`]: { copy: `${TREE}/modules.builtin.modinfo` },
    'etc/modprobe.d/10-test.conf': CONF,
    'etc/modprobe.d/20-more.alias': 'options params count=3\n',
  })
  await execa('/sbin/depmod', ['-b', root, '-C', join(root, 'etc/depmod.d'), R])
}, 60_000)
afterAll(async () => cleanup())

async function expectSame(argv: string[]) {
  const real = await hostRun(root, argv)
  const sim = simRun(root, argv)
  expect({ ...sim, stderr: maskPointers(sim.stderr) }).toEqual({ ...real, stderr: maskPointers(real.stderr) })
  return real
}

describe('modprobe -c: configuration in kmod 30 order, kernel command line options, index dump', () => {
  test('modprobe -c', async () => {
    const r = await expectSame(['modprobe', '-c'])
    expect(r.stdout).toContain('# End of configuration files. Dumping indexes now:')
  })
  test('modprobe --showconfig', async () => void (await expectSame(['modprobe', '--showconfig'])))
})

describe('built-in modules: the modules.builtin index is asked first', () => {
  for (const argv of [
    ['modprobe', '-r', '-n', '-v', 'unix'],
    ['modprobe', '-r', '-q', 'unix'],
    ['modprobe', '-n', '-v', 'unix'],
    ['modprobe', '-D', 'unix'],
    ['modprobe', '-D', 'net-pf-1'],
    ['modprobe', '-R', 'net-pf-1'],
    ['modprobe', '-n', '-v', '--first-time', 'unix'],
  ]) {
    test(argv.join(' '), async () => void (await expectSame(argv)))
  }
})

describe('modinfo of a built-in module reads modules.builtin.modinfo', () => {
  // modinfo has no -C: the host's reads the host's modprobe.d, so the simulated machine gets copies
  let mroot: string
  beforeAll(async () => {
    const t = await tmpDir({ unsafeCleanup: true })
    mroot = t.path
    const conf: Record<string, { copy: string }> = {}
    for (const d of ['/etc/modprobe.d', '/lib/modprobe.d', '/run/modprobe.d', '/usr/local/lib/modprobe.d']) {
      if (existsSync(d)) for (const f of readdirSync(d)) conf[`${d.slice(1)}/${f}`] = { copy: `${d}/${f}` }
    }
    layout(mroot, {
      ...conf,
      [`${M}/modules.builtin`]: { copy: `${TREE}/modules.builtin` },
      [`${M}/modules.builtin.modinfo`]: { copy: `${TREE}/modules.builtin.modinfo` },
    })
    await execa('/sbin/depmod', ['-b', mroot, '-C', join(mroot, 'etc/depmod.d'), R])
    return t.cleanup
  })
  for (const argv of [
    ['modinfo', 'unix'],
    ['modinfo', '8250'],
    ['modinfo', '-p', '8250'],
    ['modinfo', '-F', 'alias', 'unix'],
    ['modinfo', '-0', '-F', 'license', 'unix'],
    ['modinfo', 'net-pf-1'],
    ['modinfo', '-m', 'unix'],
    ['modinfo', 'printk'],
  ]) {
    test(argv.join(' '), async () => expect(simRun(mroot, argv)).toEqual(await hostRun(mroot, argv)))
  }
})

describe('names and paths', () => {
  test('a path is looked up as a name', async () => {
    const r = await expectSame(['modprobe', '-n', '-v', `/${M}/extra/hello_api.ko`])
    expect(r.stderr).toContain('not found in directory')
  })
  test('relative path and suffix', async () => void (await expectSame(['modprobe', '-n', 'extra/hello_api.ko'])))
  test('an unmatched bracket is no alias', async () => void (await expectSame(['modprobe', '-n', 'bad]name'])))
})

describe('--show-depends with softdeps, aliases, blacklists and options', () => {
  for (const argv of [
    ['modprobe', '-D', 'hello_feature'],
    ['modprobe', '--show-depends', 'my-demo'],
    ['modprobe', '-D', 'random'],
    ['modprobe', '-n', '-v', 'random', 'extra=1'],
    ['modprobe', '-n', '-v', 'blocked-alias'],
    ['modprobe', '-n', '-v', 'params'],
    ['modprobe', '-n', '-v', '-b', 'params'],
    ['modprobe', '-D', '-i', 'hello_feature'],
    ['modprobe', '-n', '-v', 'hello_api', 'two=a b', "q='x y'"],
    ['modprobe', '-n', '-v', 'fake_ok', 'c=3'],
    ['modprobe', '-r', '-n', '-v', 'fake_rm'],
    ['modprobe', '-r', '-n', '-v', 'hello_feature'],
    ['modprobe', '-D', '-a', 'my-demo', 'blocked-alias', 'unix'],
    ['modprobe', '-n', '-v', '-a', 'params', 'blocked-alias', 'fake_ok'],
    ['modprobe', '-D', 'modprobe_demo'],
    ['modprobe', '-n', '-v', '--ignore-install', 'modprobe_demo'],
    ['modprobe', '-R', 'symbol:api_test'],
    ['modprobe', '-D', 'symbol:api_test'],
    ['modprobe', '-n', '--first-time', 'fake_ok'],
    ['modprobe', '-q', '-n', 'nothere'],
    ['modprobe', '-w', 'x1', 'hello_api'],
  ]) {
    test(argv.join(' '), async () => void (await expectSame(argv)))
  }
})

describe('install and remove commands run through the shell (made-up modules only)', () => {
  for (const argv of [
    ['modprobe', 'fake_ok'],
    ['modprobe', 'fake_ok', 'extra=9'],
    ['modprobe', 'fake_fail'],
    ['modprobe', '-q', 'fake_fail'],
    ['modprobe', '-v', 'fake_false'],
    ['modprobe', '-a', 'fake_fail', 'fake_ok'],
    ['modprobe', 'fake_quiet'],
    ['modprobe', '-r', 'fake_rm'],
    ['modprobe', '-r', '-a', 'fake_rm_ok', 'fake_rm'],
    ['modprobe', '-r', 'fake_rm_ok'],
  ]) {
    test(argv.join(' '), async () => void (await expectSame(argv)))
  }
})

describe('--show-exports and --show-modversions read the module file', () => {
  // an in-tree module with many exports, copied out of /lib/modules: that is the sysroot's to the simulator
  const MII = `${TREE}/kernel/drivers/net/mii.ko`
  const files = [
    'fixtures/hello/hello_api.ko',
    'fixtures/hello/hello_feature.ko',
    'fixtures/errors/not_elf.ko',
    '/nonexistent/x.ko',
    ...(existsSync(MII) ? ['mii.ko'] : []),
  ]
  for (const f of files) {
    for (const opt of ['--show-exports', '--show-modversions', '--dump-modversions']) {
      test(`${opt} ${f}`, async () => {
        if (f === 'mii.ko') copyFileSync(MII, join(root, f))
        const abs = f === 'mii.ko' ? join(root, f) : f.startsWith('/') ? f : join(process.cwd(), f)
        const real = await hostRun(root, ['modprobe', opt, abs])
        expect(simRun(root, ['modprobe', opt, abs])).toEqual(real)
      })
    }
  }
})

describe('modules.dep names a file that is missing: libkmod says so each time it parses the line', () => {
  let broken: string
  beforeAll(async () => {
    const t = await tmpDir({ unsafeCleanup: true })
    broken = t.path
    layout(broken, {
      [`${M}/extra/hello_api.ko`]: { copy: 'fixtures/hello/hello_api.ko' },
      [`${M}/extra/hello_feature.ko`]: { copy: 'fixtures/hello/hello_feature.ko' },
    })
    await execa('/sbin/depmod', ['-b', broken, '-C', join(broken, 'etc/depmod.d'), R])
    rmSync(join(broken, M, 'extra/hello_api.ko'))
    return t.cleanup
  })
  for (const argv of [
    ['modprobe', '-n', '-v', 'hello_feature'],
    ['modprobe', '-D', 'hello_feature'],
    ['modprobe', '-r', '-n', '-v', 'hello_feature'],
    ['modprobe', '-R', 'hello_feature'],
    ['modprobe', '-q', '-n', 'hello_feature'],
  ]) {
    test(argv.join(' '), async () => {
      const real = await hostRun(broken, argv)
      const sim = simRun(broken, argv)
      expect({ ...sim, stderr: maskPointers(sim.stderr) }).toEqual({ ...real, stderr: maskPointers(real.stderr) })
    })
  }
})
