// Character and misc devices, filesystems and sysfs directories (fs/char_dev.c, drivers/char/misc.c,
// fs/filesystems.c, lib/kobject.c of 6.1), as far as the module's registrations and /sys show them.
import type { DataSymbol } from './data.js'
import type { KernelFunction } from '../cpu/types.js'
import { cstringArg, fmtOptions, note, type KapiContext } from './context.js'
import { fromUtf8, readCString, readUint, u32, writeUint } from './guest.js'
import { vsprintf } from './vsprintf.js'
import type { BootRegistries } from './boot-registries.js'
import { strField, type RegistryView } from './registry.js'

/** struct miscdevice: minor +0, name +8. */
const MISC = { minor: 0, name: 8 }
const MISC_DYNAMIC_MINOR = 255
/** struct file_system_type: name +0, fs_flags +8. */
const FS = { name: 0, flags: 8 }
const FS_REQUIRES_DEV = 1
const KOBJECT_SIZE = 64
/** sizeof(struct class) on 6.1 is about 150 bytes; modules pass the pointer around and set a few fields. */
const CLASS_SIZE = 256
const DEVICE_SIZE = 1024
/** CHRDEV_MAJOR_DYN_END .. CHRDEV_MAJOR_DYN_END + 20 (fs/char_dev.c): dynamic char majors from 254 down to 234. */
const CHR_DYN = { top: 254, bottom: 234 }
const MINORBITS = 20
const EBUSY = 16n
/** The kobjects the kernel exports for modules to hang directories on, and where they show. */
const ROOT_KOBJECTS: Record<string, string> = {
  fs_kobj: '/sys/fs',
  kernel_kobj: '/sys/kernel',
  firmware_kobj: '/sys/firmware',
  mm_kobj: '/sys/kernel/mm',
  power_kobj: '/sys/power',
  hypervisor_kobj: '/sys/hypervisor',
}

export class DeviceRegistry implements RegistryView {
  /** Misc devices, newest first (list_add in misc_register); the kernel's boot ones are copied in when first used. */
  get misc(): Array<{ addr: bigint; minor: number; name: string }> {
    return (this.miscList ??= (this.boot?.misc ?? []).map(([minor, name]) => ({ addr: 0n, minor, name })))
  }
  private miscList: Array<{ addr: bigint; minor: number; name: string }> | undefined
  /** Filesystems in registration order (register_filesystem appends); the kernel's boot ones come first, copied in when first used. */
  get filesystems(): Array<{ addr: bigint; name: string; nodev: boolean }> {
    return (this.fsList ??= (this.boot?.filesystems ?? []).map(([nodev, name]) => ({ addr: 0n, name, nodev })))
  }
  private fsList: Array<{ addr: bigint; name: string; nodev: boolean }> | undefined
  /** sysfs directories modules made: kobject address -> path. */
  private readonly kobjects = new Map<bigint, string>()
  private readonly dirs = new Set<string>()
  /** Char device regions, in registration order: major, first minor, count, name (the boot ones copied in when first used). */
  get chrdevs(): Array<{ major: number; minor: number; count: number; name: string }> {
    return (this.chrdevList ??= (this.boot?.chrdev ?? []).map(([major, name]) => ({ major, minor: 0, count: 1 << MINORBITS, name })))
  }
  private chrdevList: Array<{ major: number; minor: number; count: number; name: string }> | undefined
  /** Classes modules made: struct class address -> name; their devices by address. */
  private readonly classes = new Map<bigint, string>()
  private readonly devices = new Map<bigint, { cls: bigint; devt: number; name: string }>()

  /**
   * @param boot what the kernel registered at boot (captured per release); without it the views
   *   show only what modules registered, and say so in a note.
   * @param blockMajors the block registry's majors, for /proc/devices.
   */
  constructor(
    private readonly ctx: KapiContext,
    private readonly boot?: BootRegistries,
    private readonly blockMajors: () => Map<number, string> = () => new Map(),
  ) {}

  private partial(path: string): void {
    if (!this.boot)
      note(
        this.ctx,
        `${path}: the simulator lists what modules registered; the VM also lists the kernel's built-in entries (no captured boot registries for this release)`,
      )
  }

  private childrenOf(path: string): string[] {
    const out = new Set<string>()
    for (const d of this.dirs) if (d.startsWith(path + '/')) out.add(d.slice(path.length + 1).split('/')[0]!)
    return [...out].sort()
  }

  read(path: string): string | undefined {
    if (path === '/proc/devices') {
      this.partial(path)
      // chrdev_show()/blkdev_show(): by major, each major's regions in registration order.
      const byMajor = <T extends { major: number }>(xs: T[]) => [...xs].sort((a, b) => a.major - b.major)
      const chr = byMajor(this.chrdevs)
        .map((r) => `${String(r.major).padStart(3)} ${r.name}\n`)
        .join('')
      const blk = byMajor([...this.blockMajors()].map(([major, name]) => ({ major, name })))
        .map((r) => `${String(r.major).padStart(3)} ${r.name}\n`)
        .join('')
      return `Character devices:\n${chr}\nBlock devices:\n${blk}`
    }
    if (path === '/proc/misc' || path === '/proc/filesystems') {
      this.partial(path)
      if (path === '/proc/misc') return this.misc.map((m) => `${String(m.minor).padStart(3)} ${m.name}\n`).join('')
      return this.filesystems.map((f) => `${f.nodev ? 'nodev' : ''}\t${f.name}\n`).join('')
    }
    return undefined
  }

  list(path: string): string[] | undefined {
    if (this.dirs.has(path)) return this.childrenOf(path)
    if (path === '/sys/class/misc') {
      this.partial(path)
      return this.misc.map((x) => x.name).sort()
    }
    const m = /^\/sys\/class\/([^/]+)$/.exec(path)
    const cls = m && [...this.classes].find(([, n]) => n === m[1])?.[0]
    if (cls !== undefined && cls !== null) {
      note(this.ctx, `${path}: the simulator lists the class's devices, not its attributes`)
      return [...this.devices.values()]
        .filter((d) => d.cls === cls)
        .map((d) => d.name)
        .sort()
    }
    return undefined
  }

  /** __register_chrdev_region(): a dynamic major (0) from 254 down, else the given one if its minors are free. */
  private region(major: number, minor: number, count: number, name: string): number | bigint {
    if (major === 0) {
      let m = CHR_DYN.top
      while (m >= CHR_DYN.bottom && this.chrdevs.some((r) => r.major === m)) m--
      if (m < CHR_DYN.bottom) return BigInt.asUintN(64, -EBUSY)
      major = m
    } else if (this.chrdevs.some((r) => r.major === major && minor < r.minor + r.count && r.minor < minor + count)) return BigInt.asUintN(64, -EBUSY)
    this.chrdevs.push({ major, minor, count, name })
    return major
  }

  private unregion(major: number, minor: number): void {
    const i = this.chrdevs.findIndex((r) => r.major === major && r.minor === minor)
    if (i >= 0) this.chrdevs.splice(i, 1)
  }

  /** fs_kobj and friends: pointers to kobjects standing for their /sys directories. */
  data(): DataSymbol[] {
    return Object.entries(ROOT_KOBJECTS).map(([name, path]) => ({
      name,
      size: 8,
      init: (mem, addr) => {
        const kobj = this.ctx.heap.kmalloc(KOBJECT_SIZE, name)
        this.kobjects.set(kobj, path)
        writeUint(mem, addr, 8, kobj)
      },
    }))
  }

  functions(): Record<string, KernelFunction> {
    const m = this.ctx.memory
    const dir = (parent: bigint, name: string) => `${this.kobjects.get(parent) ?? '/sys'}/${name}`
    const removeTree = (path: string) => {
      for (const d of [...this.dirs]) if (d === path || d.startsWith(path + '/')) this.dirs.delete(d)
    }
    const errOr = (r: number | bigint, ok: (major: number) => bigint): bigint => (typeof r === 'bigint' ? r : ok(r))
    return {
      __register_chrdev: (c) => {
        const major = u32(c.arg(0))
        return errOr(this.region(major, u32(c.arg(1)), u32(c.arg(2)), fromUtf8(cstringArg(c, 3))), (m) => (major === 0 ? BigInt(m) : 0n))
      },
      __unregister_chrdev: (c) => this.unregion(u32(c.arg(0)), u32(c.arg(1))),
      register_chrdev_region: (c) => {
        const dev = u32(c.arg(0))
        return errOr(this.region(dev >>> MINORBITS, dev & ((1 << MINORBITS) - 1), u32(c.arg(1)), fromUtf8(cstringArg(c, 2))), () => 0n)
      },
      alloc_chrdev_region: (c) => {
        const minor = u32(c.arg(1))
        return errOr(this.region(0, minor, u32(c.arg(2)), fromUtf8(cstringArg(c, 3))), (major) => {
          writeUint(m, c.arg(0), 4, (major << MINORBITS) | minor)
          return 0n
        })
      },
      unregister_chrdev_region: (c) => {
        const dev = u32(c.arg(0))
        this.unregion(dev >>> MINORBITS, dev & ((1 << MINORBITS) - 1))
      },
      // A cdev only makes the region openable; /proc/devices shows the region.
      cdev_init: () => 0n,
      cdev_add: () => 0n,
      cdev_del: () => 0n,
      __class_create: (c) => {
        const cls = this.ctx.heap.kmalloc(CLASS_SIZE, 'class_create')
        writeUint(m, cls, 8, c.arg(1))
        this.classes.set(cls, fromUtf8(cstringArg(c, 1)))
        return cls
      },
      __class_register: (c) => {
        this.classes.set(c.arg(0), strField(this.ctx, c.arg(0), 0))
        return 0n
      },
      class_unregister: (c) => void this.classes.delete(c.arg(0)),
      class_destroy: (c) => {
        if (c.arg(0) === 0n || c.arg(0) >= BigInt.asUintN(64, -4095n) || !this.classes.delete(c.arg(0))) return
        this.ctx.heap.free(c.arg(0), 'kfree')
      },
      device_create: (c) => {
        const name = fromUtf8(vsprintf(m, readCString(m, c.arg(4)), c.varargs(5), fmtOptions(this.ctx)))
        const dev = this.ctx.heap.kmalloc(DEVICE_SIZE, 'device_create')
        this.devices.set(dev, { cls: c.arg(0), devt: u32(c.arg(2)), name })
        return dev
      },
      device_destroy: (c) => {
        for (const [addr, d] of this.devices) {
          if (d.cls === c.arg(0) && d.devt === u32(c.arg(1))) {
            this.devices.delete(addr)
            this.ctx.heap.free(addr, 'kfree')
            return
          }
        }
      },
      misc_register: (c) => {
        const misc = c.arg(0)
        let minor = u32(readUint(m, misc + BigInt(MISC.minor), 4))
        if (minor === MISC_DYNAMIC_MINOR) {
          if (!this.boot)
            note(
              this.ctx,
              'misc_register: a dynamic minor; the VM hands out minors below those its built-in drivers took at boot, which the simulator does not know for this release',
            )
          // misc_register(): the highest free of the 128 dynamic minors.
          for (minor = 127; minor > 0 && this.misc.some((x) => x.minor === minor); minor--);
          writeUint(m, misc + BigInt(MISC.minor), 4, minor)
        } else if (this.misc.some((x) => x.minor === minor)) return BigInt.asUintN(64, -EBUSY)
        this.misc.unshift({ addr: misc, minor, name: strField(this.ctx, misc, MISC.name) })
        return 0n
      },
      misc_deregister: (c) => {
        const i = this.misc.findIndex((x) => x.addr === c.arg(0))
        if (i >= 0) this.misc.splice(i, 1)
      },
      register_filesystem: (c) => {
        const fs = c.arg(0)
        const name = strField(this.ctx, fs, FS.name)
        if (this.filesystems.some((f) => f.name === name)) return BigInt.asUintN(64, -EBUSY)
        const flags = Number(readUint(m, fs + BigInt(FS.flags), 4))
        this.filesystems.push({ addr: fs, name, nodev: (flags & FS_REQUIRES_DEV) === 0 })
        return 0n
      },
      unregister_filesystem: (c) => {
        const i = this.filesystems.findIndex((f) => f.addr === c.arg(0))
        if (i < 0) return BigInt.asUintN(64, -22n)
        this.filesystems.splice(i, 1)
        return 0n
      },
      kobject_create_and_add: (c) => {
        const kobj = this.ctx.heap.kmalloc(KOBJECT_SIZE, 'kobject_create_and_add')
        const path = dir(c.arg(1), fromUtf8(cstringArg(c, 0)))
        this.kobjects.set(kobj, path)
        this.dirs.add(path)
        return kobj
      },
      kobject_put: (c) => {
        const path = this.kobjects.get(c.arg(0))
        if (path === undefined || Object.values(ROOT_KOBJECTS).includes(path)) return
        removeTree(path)
        this.kobjects.delete(c.arg(0))
        this.ctx.heap.free(c.arg(0), 'kfree')
      },
      sysfs_create_mount_point: (c) => {
        this.dirs.add(dir(c.arg(0), fromUtf8(cstringArg(c, 1))))
        return 0n
      },
      sysfs_remove_mount_point: (c) => removeTree(dir(c.arg(0), fromUtf8(cstringArg(c, 1)))),
    }
  }
}
