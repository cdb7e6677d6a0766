// Which files of the installed tree a command needs in the VM, decided from the tree's own indexes.
import { expect, test } from 'vitest'
import { parseModprobeConfig, TreeIndex, treeNeeds } from './tree.js'

const R = '6.1.0-56-amd64'
const host = `/lib/modules/${R}`

test(`modprobe NAME needs the module, its dependencies and its softdeps' modules (host tree of ${R})`, async () => {
  const index = await TreeIndex.read(host)
  const bridge = treeNeeds(['modprobe', 'bridge'], '/', R, index)
  expect(bridge).toMatchObject({ indexes: true, depmod: false })
  expect(bridge.files.sort()).toEqual(['kernel/net/802/stp.ko', 'kernel/net/bridge/bridge.ko', 'kernel/net/llc/llc.ko'])
  // libcrc32c's softdep "pre: crc32c" is an alias of crc32c_generic and crc32c_intel: modprobe tries both.
  expect(index.filesFor('libcrc32c').sort()).toEqual(['kernel/arch/x86/crypto/crc32c-intel.ko', 'kernel/crypto/crc32c_generic.ko', 'kernel/lib/libcrc32c.ko'])
  // An alias is looked up as modprobe does (crypto-crc32c -> both providers).
  expect(index.lookup('crypto-crc32c').sort()).toEqual(['crc32c_generic', 'crc32c_intel'])
  expect(index.lookup('no_such_module')).toEqual([])
})

test('only the first operand is a module unless -a; -r and another tree need no module file', async () => {
  const index = await TreeIndex.read(host)
  expect(treeNeeds(['modprobe', 'loop', 'max_loop=2'], '/', R, index).files).toEqual(['kernel/drivers/block/loop.ko'])
  expect(treeNeeds(['modprobe', '-a', 'loop', 'dummy'], '/', R, index).files.sort()).toEqual(['kernel/drivers/block/loop.ko', 'kernel/drivers/net/dummy.ko'])
  expect(treeNeeds(['modprobe', '-r', 'loop'], '/', R, index).files).toEqual([])
  expect(treeNeeds(['modprobe', '-d', '/srv', 'loop'], '/', R, index).files).toEqual([])
})

test('depmod of the tree runs on the host; with -b, -C or another release it runs in the VM', async () => {
  const index = await TreeIndex.read(host)
  expect(treeNeeds(['depmod'], '/', R, index).depmod).toBe(true)
  expect(treeNeeds(['depmod', '-a', R], '/', R, index).depmod).toBe(true)
  expect(treeNeeds(['depmod', '-b', '/srv'], '/', R, index).depmod).toBe(false)
  expect(treeNeeds(['depmod', '6.12.117+deb12-amd64'], '/', R, index).depmod).toBe(false)
})

test('a path into the tree, absolute or relative, is uploaded; other commands need nothing', async () => {
  const index = await TreeIndex.read(host)
  expect(treeNeeds(['insmod', `${host}/kernel/lib/libcrc32c.ko`], '/', R, index)).toEqual({ indexes: true, files: ['kernel/lib/libcrc32c.ko'], depmod: false })
  expect(treeNeeds(['cat', 'modules.dep'], host, R, index).files).toEqual(['modules.dep'])
  expect(treeNeeds(['lsmod'], '/', R, index)).toEqual({ indexes: false, files: [], depmod: false })
  expect(treeNeeds(['modinfo', '-F', 'depends', 'bridge'], '/', R, index).files).toContain('kernel/net/bridge/bridge.ko')
})

test("the run's modprobe.d aliases and softdeps choose tree modules too", async () => {
  const index = await TreeIndex.read(host)
  const config = parseModprobeConfig(['alias my_net dummy\n# a comment\nsoftdep dummy pre: loop post: \\\n  tun\n'])
  expect(config.aliases).toEqual([['my_net', 'dummy']])
  expect(config.softdeps.get('dummy')).toEqual(['loop', 'tun'])
  expect(treeNeeds(['modprobe', 'my_net'], '/', R, index, config).files.sort()).toEqual([
    'kernel/drivers/block/loop.ko',
    'kernel/drivers/net/dummy.ko',
    'kernel/drivers/net/tun.ko',
  ])
  expect(treeNeeds(['modprobe', 'my_net'], '/', R, index).files).toEqual([])
})
