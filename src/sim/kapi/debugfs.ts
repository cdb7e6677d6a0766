// debugfs (fs/debugfs/inode.c of 6.1) as a tree of names under /sys/kernel/debug: `ls` shows what a
// module created; what a file reads is its fops' to say, which the simulator does not run yet.
import type { KernelFunction } from '../cpu/types.js'
import { cstringArg, note, type KapiContext } from './context.js'
import { fromUtf8 } from './guest.js'
import type { RegistryView } from './registry.js'

const ROOT = '/sys/kernel/debug'
const DENTRY_SIZE = 192
const EEXIST = 17n

export class Debugfs implements RegistryView {
  /** dentry address -> path, for directories and files alike. */
  private readonly dentries = new Map<bigint, { path: string; dir: boolean }>()

  constructor(private readonly ctx: KapiContext) {}

  private pathOf(parent: bigint): string {
    return this.dentries.get(parent)?.path ?? ROOT
  }

  private create(parent: bigint, name: string, dir: boolean): bigint {
    const path = `${this.pathOf(parent)}/${name}`
    if ([...this.dentries.values()].some((d) => d.path === path)) return BigInt.asUintN(64, -EEXIST)
    const d = this.ctx.heap.kmalloc(DENTRY_SIZE, dir ? 'debugfs_create_dir' : 'debugfs_create_file')
    this.dentries.set(d, { path, dir })
    return d
  }

  private remove(path: string): void {
    for (const [addr, d] of [...this.dentries]) {
      if (d.path === path || d.path.startsWith(path + '/')) {
        this.dentries.delete(addr)
        this.ctx.heap.free(addr, 'kfree')
      }
    }
  }

  read(path: string): string | undefined {
    const d = [...this.dentries.values()].find((x) => x.path === path && !x.dir)
    if (d) note(this.ctx, `${path}: a debugfs file's contents come from its fops, which the simulator does not run yet`)
    return undefined
  }

  list(path: string): string[] | undefined {
    if (path !== ROOT && ![...this.dentries.values()].some((d) => d.path === path && d.dir)) return undefined
    const mine = [...this.dentries.values()].filter((d) => d.path.startsWith(path + '/') && !d.path.slice(path.length + 1).includes('/'))
    if (path === ROOT && !mine.length) return undefined
    if (path === ROOT) note(this.ctx, `${ROOT}: the simulator lists what modules created; the VM also has the kernel's own entries`)
    return mine.map((d) => d.path.slice(path.length + 1)).sort()
  }

  functions(): Record<string, KernelFunction> {
    const file: KernelFunction = (c) => this.create(c.arg(2), fromUtf8(cstringArg(c, 0)), false)
    return {
      debugfs_create_dir: (c) => this.create(c.arg(1), fromUtf8(cstringArg(c, 0)), true),
      debugfs_create_file: file,
      debugfs_create_file_unsafe: file,
      debugfs_create_file_size: file,
      debugfs_create_u8: file,
      debugfs_create_u16: file,
      debugfs_create_u32: file,
      debugfs_create_u64: file,
      debugfs_create_x8: file,
      debugfs_create_x16: file,
      debugfs_create_x32: file,
      debugfs_create_x64: file,
      debugfs_create_bool: file,
      debugfs_create_ulong: file,
      debugfs_create_size_t: file,
      debugfs_create_atomic_t: file,
      debugfs_create_blob: file,
      debugfs_create_regset32: file,
      debugfs_create_devm_seqfile: file,
      debugfs_create_symlink: (c) => this.create(c.arg(1), fromUtf8(cstringArg(c, 0)), false),
      debugfs_remove: (c) => {
        const d = this.dentries.get(c.arg(0))
        if (d) this.remove(d.path)
      },
      debugfs_lookup_and_remove: (c) => this.remove(`${this.pathOf(c.arg(1))}/${fromUtf8(cstringArg(c, 0))}`),
    }
  }
}
