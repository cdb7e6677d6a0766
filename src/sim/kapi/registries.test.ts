// The registries on their own (a host that counts module references, no CPU): what the kernel hands
// out (majors, names, ids) and when it takes and drops references. The real modules' suite is
// src/cli/real-modules.test.ts.
import { describe, expect, test } from 'vitest'
import { BlockRegistry } from './block.js'
import { DeviceRegistry } from './chrdev.js'
import { Debugfs } from './debugfs.js'
import { DriverRegistry } from './drivers.js'
import { Timers } from './timers.js'
import { Workqueues } from './workqueue.js'
import { jiffies } from './time.js'
import { CryptoRegistry } from './crypto.js'
import { readUint, utf8, writeUint } from './guest.js'
import { idrFunctions } from './idr.js'
import { NetdevRegistry } from './netdev.js'
import type { RegistryHost } from './registry.js'
import { callWith, testContext } from './testing.js'

const OWNER = 0xffffffffc0001000n
const ERR = (e: number) => BigInt.asUintN(64, BigInt(-e))

function setup() {
  const ctx = testContext()
  const refs = { n: 1, going: false }
  const requested: string[] = []
  const host: RegistryHost = {
    moduleGet: (o) => o === 0n || (!refs.going && ++refs.n > 0),
    modulePut: (o) => void (o !== 0n && refs.n--),
    callGuest: () => 0n,
  }
  const call = (fns: Record<string, (c: ReturnType<typeof callWith>) => unknown>, fn: string, ...args: Array<bigint | number>) =>
    fns[fn]!(callWith(ctx.memory, args))
  const str = (s: string) => ctx.scratch.put(utf8(s + '\0'))
  return { ctx, refs, host, call, str, requested }
}

describe('crypto: references on the provider module', () => {
  /** A shash_alg (480 bytes) named `name`/`driver` at `priority`, owned by OWNER. */
  function shash(ctx: ReturnType<typeof setup>['ctx'], name: string, driver: string, priority: number): bigint {
    const p = ctx.scratch.put(new Uint8Array(480))
    ctx.memory.write(p + 96n + 56n, utf8(name))
    ctx.memory.write(p + 96n + 184n, utf8(driver))
    writeUint(ctx.memory, p + 96n + 48n, 4, priority)
    writeUint(ctx.memory, p + 96n + 376n, 8, OWNER)
    return p
  }

  test('crypto_alloc_shash takes a reference on the best provider, crypto_destroy_tfm drops it', () => {
    const s = setup()
    const reg = new CryptoRegistry(s.ctx, s.host, (n) => s.requested.push(n))
    const fns = reg.functions()
    const low = shash(s.ctx, 'crc32c', 'crc32c-generic', 100)
    const high = shash(s.ctx, 'crc32c', 'crc32c-intel', 200)
    expect(s.call(fns, 'crypto_register_shash', low)).toBe(0n)
    expect(s.call(fns, 'crypto_register_shash', high)).toBe(0n)
    expect(s.call(fns, 'crypto_register_shash', high)).toBe(ERR(17))
    expect(s.refs.n).toBe(1)
    const mem = s.call(fns, 'crypto_alloc_shash', s.str('crc32c'), 0, 0) as bigint
    expect(readUint(s.ctx.memory, mem + 8n + 24n, 8)).toBe(high + 96n)
    expect(s.refs.n).toBe(2)
    const byDriver = s.call(fns, 'crypto_alloc_shash', s.str('crc32c-generic'), 0, 0) as bigint
    expect(readUint(s.ctx.memory, byDriver + 8n + 24n, 8)).toBe(low + 96n)
    expect(s.refs.n).toBe(3)
    s.call(fns, 'crypto_destroy_tfm', mem, mem + 8n)
    s.call(fns, 'crypto_destroy_tfm', byDriver, byDriver + 8n)
    expect(s.refs.n).toBe(1)
  })

  test('no provider: modprobe is asked for crypto-NAME and crypto-NAME-all, then -ENOENT', () => {
    const s = setup()
    const fns = new CryptoRegistry(s.ctx, s.host, (n) => s.requested.push(n)).functions()
    expect(s.call(fns, 'crypto_alloc_shash', s.str('crc32c'), 0, 0)).toBe(ERR(2))
    expect(s.requested).toEqual(['crypto-crc32c', 'crypto-crc32c-all'])
  })

  test('a provider going away is not handed out', () => {
    const s = setup()
    const fns = new CryptoRegistry(s.ctx, s.host, () => {}).functions()
    s.call(fns, 'crypto_register_shash', shash(s.ctx, 'crc32c', 'crc32c-generic', 100))
    s.refs.going = true
    expect(s.call(fns, 'crypto_alloc_shash', s.str('crc32c'), 0, 0)).toBe(ERR(2))
  })
})

describe('block, net, misc, filesystems, idr', () => {
  test('dynamic block majors count down from 254; a taken fixed major is -EBUSY', () => {
    const s = setup()
    const fns = new BlockRegistry(s.ctx).functions()
    expect(s.call(fns, '__register_blkdev', 0, s.str('zram'))).toBe(254n)
    expect(s.call(fns, '__register_blkdev', 0, s.str('other'))).toBe(253n)
    expect(s.call(fns, '__register_blkdev', 7, s.str('loop'))).toBe(0n)
    expect(s.call(fns, '__register_blkdev', 7, s.str('loop2'))).toBe(ERR(16))
  })

  test('a disk shows in /sys/block from device_add_disk to del_gendisk', () => {
    const s = setup()
    const reg = new BlockRegistry(s.ctx)
    const fns = reg.functions()
    const disk = s.call(fns, '__blk_alloc_disk', 0, 0) as bigint
    s.ctx.memory.write(disk + 12n, utf8('ram0\0'))
    writeUint(s.ctx.memory, disk, 4, 1)
    s.call(fns, 'set_capacity', disk, 32768)
    expect(reg.list('/sys/block')).toEqual([])
    s.call(fns, 'device_add_disk', 0, disk, 0)
    expect(reg.list('/sys/block')).toEqual(['ram0'])
    expect(reg.read('/sys/block/ram0/dev')).toBe('1:0\n')
    expect(reg.read('/sys/block/ram0/size')).toBe('32768\n')
    s.call(fns, 'del_gendisk', disk)
    expect(reg.list('/sys/block')).toEqual([])
  })

  test('register_netdevice gives "dummy%d" the lowest free number; /sys/class/net has lo beside it', () => {
    const s = setup()
    const reg = new NetdevRegistry(s.ctx, s.host)
    const fns = reg.functions()
    const a = s.call(fns, 'alloc_netdev_mqs', 0, s.str('dummy%d'), 0, 0, 1, 1) as bigint
    const b = s.call(fns, 'alloc_netdev_mqs', 0, s.str('dummy%d'), 0, 0, 1, 1) as bigint
    s.call(fns, 'ether_setup', a)
    expect(s.call(fns, 'register_netdevice', a)).toBe(0n)
    expect(s.call(fns, 'register_netdevice', b)).toBe(0n)
    expect(reg.list('/sys/class/net')).toEqual(['dummy0', 'dummy1', 'lo'])
    expect(reg.read('/sys/class/net/dummy0/mtu')).toBe('1500\n')
    expect(reg.info(a)).toEqual({ name: 'dummy0', regState: 1 })
    s.call(fns, 'unregister_netdev', a)
    expect(reg.list('/sys/class/net')).toEqual(['dummy1', 'lo'])
  })

  test('misc minors and filesystem names are refused twice; sysfs directories hang off fs_kobj', () => {
    const s = setup()
    const reg = new DeviceRegistry(s.ctx)
    const fns = reg.functions()
    const misc = s.ctx.scratch.put(new Uint8Array(64))
    writeUint(s.ctx.memory, misc, 4, 229)
    writeUint(s.ctx.memory, misc + 8n, 8, s.str('fuse'))
    expect(s.call(fns, 'misc_register', misc)).toBe(0n)
    expect(s.call(fns, 'misc_register', misc)).toBe(ERR(16))
    const fs = s.ctx.scratch.put(new Uint8Array(64))
    writeUint(s.ctx.memory, fs, 8, s.str('fuseblk'))
    writeUint(s.ctx.memory, fs + 8n, 4, 1)
    expect(s.call(fns, 'register_filesystem', fs)).toBe(0n)
    expect(s.call(fns, 'register_filesystem', fs)).toBe(ERR(16))
    expect(reg.read('/proc/filesystems')).toBe('\tfuseblk\n')
    expect(reg.read('/proc/misc')).toBe('229 fuse\n')
    const slot = s.ctx.scratch.put(new Uint8Array(8))
    reg
      .data()
      .find((d) => d.name === 'fs_kobj')!
      .init(s.ctx.memory, slot)
    const kobj = s.call(fns, 'kobject_create_and_add', s.str('fuse'), readUint(s.ctx.memory, slot, 8)) as bigint
    s.call(fns, 'sysfs_create_mount_point', kobj, s.str('connections'))
    expect(reg.list('/sys/fs/fuse')).toEqual(['connections'])
    s.call(fns, 'kobject_put', kobj)
    expect(reg.list('/sys/fs/fuse')).toBeUndefined()
  })

  test('idr_alloc hands out the lowest free id in [start, end)', () => {
    const s = setup()
    const fns = idrFunctions(s.ctx, s.host)
    const idr = 0x1000n
    expect(s.call(fns, 'idr_alloc', idr, 0xa, 0, 0, 0)).toBe(0n)
    expect(s.call(fns, 'idr_alloc', idr, 0xb, 0, 0, 0)).toBe(1n)
    expect(s.call(fns, 'idr_alloc', idr, 0xc, 1, 2, 0)).toBe(ERR(28))
    expect(s.call(fns, 'idr_remove', idr, 0)).toBe(0xan)
    expect(s.call(fns, 'idr_alloc', idr, 0xd, 0, 0, 0)).toBe(0n)
    expect(s.call(fns, 'idr_find', idr, 1)).toBe(0xbn)
  })
})

describe('drivers, debugfs, workqueues', () => {
  test('a PCI driver with no device only shows under /sys/bus/pci/drivers, until it unregisters', () => {
    const s = setup()
    const reg = new DriverRegistry(s.ctx)
    const fns = reg.functions()
    const pci = s.ctx.scratch.put(new Uint8Array(256))
    writeUint(s.ctx.memory, pci + 16n, 8, s.str('e1000'))
    expect(s.call(fns, '__pci_register_driver', pci, OWNER, s.str('e1000'))).toBe(0n)
    expect(reg.list('/sys/bus/pci/drivers')).toEqual(['e1000'])
    expect(readUint(s.ctx.memory, pci + 120n + 16n, 8)).toBe(OWNER)
    expect(s.call(fns, '__pci_register_driver', pci, OWNER, s.str('e1000'))).toBe(ERR(16))
    s.call(fns, 'pci_unregister_driver', pci)
    expect(reg.list('/sys/bus/pci/drivers')).toBeUndefined()
  })

  test('debugfs directories and files list under /sys/kernel/debug; debugfs_remove takes the subtree', () => {
    const s = setup()
    const fs = new Debugfs(s.ctx)
    const fns = fs.functions()
    const dir = s.call(fns, 'debugfs_create_dir', s.str('zram'), 0) as bigint
    s.call(fns, 'debugfs_create_file', s.str('stats'), 0o444, dir, 0, 0)
    expect(fs.list('/sys/kernel/debug')).toEqual(['zram'])
    expect(fs.list('/sys/kernel/debug/zram')).toEqual(['stats'])
    s.call(fns, 'debugfs_remove', dir)
    expect(fs.list('/sys/kernel/debug/zram')).toBeUndefined()
  })

  test('queued work runs once, in order, on flush or at the syscall boundary; cancelled work never runs', () => {
    const ran: bigint[] = []
    const s = setup()
    const host: RegistryHost = { ...s.host, callGuest: (_fn, args) => (ran.push(args[0]!), 0n) }
    const wq = new Workqueues(s.ctx, host)
    const fns = wq.functions()
    const work = () => {
      const w = s.ctx.scratch.put(new Uint8Array(32))
      writeUint(s.ctx.memory, w + 24n, 8, 0xffffffffc0002000n)
      return w
    }
    const [a, b, c] = [work(), work(), work()]
    expect(s.call(fns, 'queue_work_on', 0, 0, a)).toBe(1n)
    expect(s.call(fns, 'queue_work_on', 0, 0, a)).toBe(0n)
    s.call(fns, 'queue_work_on', 0, 0, b)
    s.call(fns, 'queue_work_on', 0, 0, c)
    expect(s.call(fns, 'cancel_work_sync', c)).toBe(1n)
    s.call(fns, 'flush_work', b)
    expect(ran).toEqual([b])
    wq.drain()
    expect(ran).toEqual([b, a])
  })
})

test('a timer runs once its expiry has passed on the virtual clock; a deleted one never runs', () => {
  const ran: bigint[] = []
  const s = setup()
  const host: RegistryHost = { ...s.host, callGuest: (_fn, args) => (ran.push(args[0]!), 0n) }
  const timers = new Timers(s.ctx, host)
  const fns = timers.functions()
  const [a, b] = [s.ctx.scratch.put(new Uint8Array(40)), s.ctx.scratch.put(new Uint8Array(40))]
  s.call(fns, 'init_timer_key', a, 0xffffffffc0003000n, 0, 0, 0)
  s.call(fns, 'init_timer_key', b, 0xffffffffc0003000n, 0, 0, 0)
  const now = jiffies(s.ctx.clock)
  expect(s.call(fns, 'mod_timer', a, now + 25n)).toBe(0n)
  expect(s.call(fns, 'mod_timer', b, now + 25n)).toBe(0n)
  expect(s.call(fns, 'del_timer_sync', b)).toBe(1n)
  timers.runDue()
  expect(ran).toEqual([])
  s.ctx.clock.tick(100_000) // 100 ms: 25 jiffies at HZ=250
  timers.runDue()
  expect(ran).toEqual([a])
  timers.runDue()
  expect(ran).toEqual([a])
})
