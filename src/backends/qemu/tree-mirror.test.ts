// The VM's view of the installed tree, with a recording stand-in for the VM: what goes up before a
// command, and depmod run on the host over the tree plus the run's own files, less the removed ones.
import path from 'node:path'
import { expect, test } from 'vitest'
import { TreeMirror, type TreeVm } from './tree-mirror.js'

const R = '6.1.0-56-amd64'
const T = `/lib/modules/${R}`
const root = process.cwd()

function recordingVm() {
  const puts = new Map<string, Buffer>()
  const vm: TreeVm = {
    put: async (file, _mode, data) => void puts.set(file, Buffer.from(data)),
    mkdir: async () => {},
  }
  return { vm, puts }
}

test('modprobe brings the indexes and the modules it loads, once each', async () => {
  const mirror = new TreeMirror(R)
  const { vm, puts } = recordingVm()
  expect(await mirror.before(vm, ['modprobe', 'bridge'], root)).toBeUndefined()
  expect([...puts.keys()].filter((f) => f.endsWith('.ko')).sort()).toEqual([
    `${T}/kernel/net/802/stp.ko`,
    `${T}/kernel/net/bridge/bridge.ko`,
    `${T}/kernel/net/llc/llc.ko`,
  ])
  expect(puts.has(`${T}/modules.dep.bin`)).toBe(true)
  puts.clear()
  await mirror.before(vm, ['modprobe', 'bridge'], root)
  expect(puts.size).toBe(0)
  mirror.reset()
  await mirror.before(vm, ['modprobe', 'bridge'], root)
  expect(puts.size).toBeGreaterThan(3)
  await mirror.close()
})

test("depmod runs on the host over the tree, the run's own module in extra/ and without a removed one; -n writes nothing", async () => {
  const mirror = new TreeMirror(R)
  const { vm, puts } = recordingVm()
  try {
    await mirror.after(['mkdir', '-p', `${T}/extra`], root, 0)
    await mirror.after(['cp', 'fixtures/tree/crc_user.ko', `${T}/extra`], root, 0)
    await mirror.after(['rm', `${T}/kernel/drivers/net/dummy.ko`], root, 0)
    const dry = await mirror.before(vm, ['depmod', '-n'], root)
    expect(dry).toMatchObject({ exitCode: 0, stderr: '' })
    expect(dry!.stdout).toContain('extra/crc_user.ko: kernel/lib/libcrc32c.ko\n')
    expect(dry!.stdout).not.toContain('/tmp/') // the staging directory never shows
    expect(puts.has(`${T}/modules.dep`) && puts.get(`${T}/modules.dep`)!.toString().includes('crc_user')).toBe(false)
    const r = await mirror.before(vm, ['depmod'], root)
    expect(r).toMatchObject({ argv: ['depmod'], exitCode: 0, stdout: '', stderr: '', dmesg: [] })
    const dep = puts.get(`${T}/modules.dep`)!.toString()
    expect(dep).toContain('extra/crc_user.ko: kernel/lib/libcrc32c.ko\n')
    expect(dep).not.toContain('kernel/drivers/net/dummy.ko')
    expect(dep).toContain('kernel/drivers/net/tun.ko:')
    // The next modprobe resolves through the new indexes: crc_user is already in the VM, its dependency goes up.
    puts.clear()
    await mirror.before(vm, ['modprobe', 'crc_user'], path.join(root, 'fixtures'))
    expect([...puts.keys()].filter((f) => f.endsWith('.ko')).sort()).toEqual([
      `${T}/kernel/arch/x86/crypto/crc32c-intel.ko`,
      `${T}/kernel/crypto/crc32c_generic.ko`,
      `${T}/kernel/lib/libcrc32c.ko`,
    ])
  } finally {
    await mirror.close()
  }
})
