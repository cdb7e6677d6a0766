// Block devices (block/genhd.c, block/bdev.c of 6.1): majors by register_blkdev, disks from
// blk_alloc_disk / blk_mq_alloc_disk, visible once device_add_disk ran: /sys/block/NAME/{dev,size}.
import type { KernelFunction } from '../cpu/types.js'
import { cstringArg, note, type KapiContext } from './context.js'
import { fromUtf8, readCString, readUint, u32 } from './guest.js'
import type { RegistryView } from './registry.js'
import type { BootRegistries } from './boot-registries.js'

/** struct gendisk of Debian's 6.1: major +0, first_minor +4, minors +8, disk_name[32] +12, part0 +64, queue +80; 672 bytes. */
const DISK = { major: 0, firstMinor: 4, name: 12, part0: 64, queue: 80, size: 672 }
const QUEUE_SIZE = 968
const BDEV_SIZE = 928
/** BLKDEV_MAJOR_HASH_SIZE - 1: dynamic majors are handed out from here down. */
const DYNAMIC_TOP = 254
const EBUSY = 16n
const EINVAL = 22n

interface Disk {
  addr: bigint
  sectors: bigint
  added: boolean
}

export class BlockRegistry implements RegistryView {
  /** major -> names registered on it (register_blkdev). */
  readonly majors = new Map<number, string>()
  private readonly disks = new Map<bigint, Disk>()

  constructor(
    private readonly ctx: KapiContext,
    boot?: BootRegistries,
  ) {
    for (const [major, name] of boot?.blkdev ?? []) this.majors.set(major, name)
  }

  private name(d: Disk): string {
    return fromUtf8(readCString(this.ctx.memory, d.addr + BigInt(DISK.name), 32))
  }

  private added(): Array<{ name: string; disk: Disk }> {
    return [...this.disks.values()].filter((d) => d.added).map((disk) => ({ name: this.name(disk), disk }))
  }

  /** __register_blkdev(): a given major (0 on success) or the highest free one below 255. */
  register(major: number, name: string): bigint {
    if (major === 0) {
      for (let m = DYNAMIC_TOP; m > 0; m--) {
        if (!this.majors.has(m)) {
          this.majors.set(m, name)
          return BigInt(m)
        }
      }
      return BigInt.asUintN(64, -EBUSY)
    }
    if (major >= 512) return BigInt.asUintN(64, -EINVAL)
    if (this.majors.has(major)) return BigInt.asUintN(64, -EBUSY)
    this.majors.set(major, name)
    return 0n
  }

  alloc(): bigint {
    const heap = this.ctx.heap
    const q = heap.kmalloc(QUEUE_SIZE, 'blk_alloc_queue')
    const disk = heap.kmalloc(DISK.size, '__alloc_disk_node')
    const part0 = heap.kmalloc(BDEV_SIZE, 'bdev_alloc')
    this.ctx.memory.write(disk + BigInt(DISK.queue), le64(q))
    this.ctx.memory.write(disk + BigInt(DISK.part0), le64(part0))
    this.disks.set(disk, { addr: disk, sectors: 0n, added: false })
    return disk
  }

  read(path: string): string | undefined {
    const m = /^\/sys\/block\/([^/]+)\/(dev|size)$/.exec(path)
    if (!m) return undefined
    const d = this.added().find((x) => x.name === m[1])
    if (!d) return undefined
    if (m[2] === 'size') return `${d.disk.sectors}\n`
    const mem = this.ctx.memory
    return `${u32(readUint(mem, d.disk.addr + BigInt(DISK.major), 4))}:${u32(readUint(mem, d.disk.addr + BigInt(DISK.firstMinor), 4))}\n`
  }

  list(path: string): string[] | undefined {
    if (path === '/sys/block')
      return this.added()
        .map((d) => d.name)
        .sort()
    const m = /^\/sys\/block\/([^/]+)$/.exec(path)
    if (m && this.added().some((d) => d.name === m[1])) {
      note(this.ctx, `/sys/block/${m[1]}: the simulator shows only dev and size of a disk`)
      return ['dev', 'size']
    }
    return undefined
  }

  functions(): Record<string, KernelFunction> {
    const setCapacity = (disk: bigint, sectors: bigint): bigint => {
      const d = this.disks.get(disk)
      if (!d) return 0n
      const before = d.sectors
      d.sectors = sectors
      if (before !== sectors && d.added)
        note(this.ctx, `set_capacity_and_notify: the kernel logs "${this.name(d)}: detected capacity change" and sends a uevent; the simulator does not`)
      return 0n
    }
    const noop: KernelFunction = () => 0n
    return {
      __register_blkdev: (c) => this.register(u32(c.arg(0)), fromUtf8(cstringArg(c, 1))),
      unregister_blkdev: (c) => {
        const major = u32(c.arg(0))
        if (this.majors.get(major) === fromUtf8(cstringArg(c, 1))) this.majors.delete(major)
      },
      __blk_alloc_disk: () => this.alloc(),
      __blk_mq_alloc_disk: () => this.alloc(),
      blk_mq_alloc_tag_set: noop,
      blk_mq_free_tag_set: noop,
      device_add_disk: (c) => {
        const d = this.disks.get(c.arg(1))
        if (d) d.added = true
        return 0n
      },
      del_gendisk: (c) => {
        const d = this.disks.get(c.arg(0))
        if (d) d.added = false
      },
      put_disk: (c) => {
        const d = this.disks.get(c.arg(0))
        if (!d) return
        this.disks.delete(d.addr)
        const heap = this.ctx.heap
        heap.free(readUint(this.ctx.memory, d.addr + BigInt(DISK.part0), 8), 'kfree')
        heap.free(readUint(this.ctx.memory, d.addr + BigInt(DISK.queue), 8), 'kfree')
        heap.free(d.addr, 'kfree')
      },
      set_capacity: (c) => void setCapacity(c.arg(0), c.arg(1)),
      set_capacity_and_notify: (c) => setCapacity(c.arg(0), c.arg(1)),
      // Queue limits: /sys/block/NAME/queue is not shown, so the values are not kept.
      blk_queue_flag_set: noop,
      blk_queue_flag_clear: noop,
      blk_queue_logical_block_size: noop,
      blk_queue_physical_block_size: noop,
      blk_queue_io_min: noop,
      blk_queue_io_opt: noop,
      blk_queue_max_discard_sectors: noop,
      blk_queue_max_write_zeroes_sectors: noop,
      blk_queue_max_hw_sectors: noop,
      blk_queue_write_cache: noop,
      set_disk_ro: noop,
    }
  }
}

function le64(v: bigint): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true)
  return b
}
