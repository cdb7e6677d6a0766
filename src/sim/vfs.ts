/**
 * The simulated machine's file system. Four kinds of places:
 * - `/proc` and `/sys`: answered by the simulated kernel;
 * - `/lib/modules`, `/etc/modprobe.d` and `/etc/depmod.d` (the sysroot): in memory, or a host directory when
 *   a sysroot is given (then read from and written to it, so depmod output can be compared);
 * - everything else: read from the host, with writes kept in an in-memory overlay, so the
 *   host is never written outside an explicit sysroot;
 * - with `tree: 'installed'`, `/lib/modules/<release>` is the host's own tree read lazily (a file is
 *   read when a tool opens it) under the same in-memory overlay, so depmod's output stays in memory.
 * Errors carry a positive errno, as the syscalls a real tool makes would return.
 */
import * as fs from 'node:fs'
import { posix } from 'node:path'
import type { SimKernel } from './kernel/types.js'
import { errno } from './kernel/types.js'
import { neverChanges } from './kernel/image-facts.js'

export const { ENOENT, EIO, EACCES, EEXIST, ENOTDIR, EISDIR, EINVAL, ENOTEMPTY } = errno

/** A failed file operation: `errno` is positive, like `errno` after a failed libc call. */
export class VfsError extends Error {
  constructor(
    readonly errno: number,
    readonly path: string,
  ) {
    super(`${path}: errno ${errno}`)
    this.name = 'VfsError'
  }
}

export interface VfsStat {
  type: 'file' | 'dir'
  size: number
  /** Modification time in milliseconds (virtual for in-memory files). */
  mtimeMs: number
}

type MemNode = { type: 'file'; data: Uint8Array; mtimeMs: number } | { type: 'dir'; mtimeMs: number } | { type: 'deleted' }

/** The roots the sysroot provides, as seen inside the simulated machine (kmod's every config directory, so the host's never leak in). */
const SYSROOT_PLACES = [
  '/lib/modules',
  '/etc/modprobe.d',
  '/etc/depmod.d',
  '/run/modprobe.d',
  '/usr/local/lib/modprobe.d',
  '/lib/modprobe.d',
  '/run/depmod.d',
  '/usr/local/lib/depmod.d',
  '/lib/depmod.d',
]

export interface VfsOptions {
  release: string
  kernel: SimKernel
  /** Host directory holding `lib/modules/<release>` and `etc/modprobe.d`; default: in memory. */
  sysroot?: string
  /** 'installed': `/lib/modules/<release>` shows the host's installed tree (read lazily, writes kept in memory). */
  tree?: 'empty' | 'installed'
}

function under(path: string, root: string): boolean {
  return path === root || path.startsWith(root + '/')
}

export class Vfs {
  private overlay = new Map<string, MemNode>()
  private mem = new Map<string, MemNode>()
  /**
   * Virtual clock for in-memory mtimes: strictly increasing (1 ms a write), so depmod -A sees order,
   * and started on a whole second so whether two writes share a second never depends on the wall clock.
   */
  private clock = 0
  kernel: SimKernel

  constructor(private readonly options: VfsOptions) {
    this.kernel = options.kernel
    this.reset(options.kernel)
  }

  /** Fresh overlay and fresh in-memory sysroot; a host sysroot is left as it is. */
  reset(kernel: SimKernel): void {
    this.kernel = kernel
    this.overlay.clear()
    this.mem.clear()
    this.clock = Math.floor(Date.now() / 1000) * 1000
    if (this.options.sysroot === undefined) {
      // With the installed tree, the release's directory itself comes from the host (see route()).
      const own = this.options.tree === 'installed' ? [] : [`/lib/modules/${this.options.release}`]
      for (const dir of ['/lib/modules', ...own, '/etc/modprobe.d', '/etc/depmod.d']) {
        this.mem.set(dir, { type: 'dir', mtimeMs: this.now() })
      }
    }
  }

  private now(): number {
    this.clock += 1
    return this.clock
  }

  /** Absolute, normalized path of `path` as seen from `cwd`. */
  resolve(path: string, cwd: string): string {
    const joined = path.startsWith('/') ? path : cwd === '/' ? `/${path}` : `${cwd}/${path}`
    // most paths are normal already (no empty, '.' or '..' parts, no trailing slash): skip normalize
    if (!/\/\/|\/\.|.\/$/.test(joined) && cwd.startsWith('/')) return joined
    return posix.normalize(posix.isAbsolute(path) ? path : posix.join(cwd, path)).replace(/(.)\/$/, '$1')
  }

  /**
   * Runs `fn` (one command) remembering the host's answers to stat: a tool asks for the same file more than
   * once (insmod stats it, then reads it), and no host file is taken to change within one command.
   */
  batch<T>(fn: () => T): T {
    const outer = this.hostStats
    this.hostStats ??= new Map()
    try {
      return fn()
    } finally {
      this.hostStats = outer
    }
  }

  private hostStats: Map<string, fs.Stats | undefined> | undefined = undefined

  /** fs.statSync of a host path (undefined when absent), remembered within batch(). */
  private statHost(path: string): fs.Stats | undefined {
    const memo = this.hostStats
    if (memo?.has(path)) return memo.get(path)
    let st: fs.Stats | undefined
    try {
      st = fs.statSync(path, { throwIfNoEntry: false })
    } catch {
      st = undefined
    }
    memo?.set(path, st)
    return st
  }

  private route(abs: string): { kind: 'kernel' } | { kind: 'host'; host: string } | { kind: 'mem' } | { kind: 'overlay' } | { kind: 'absent' } {
    if (under(abs, '/proc') || under(abs, '/sys')) return { kind: 'kernel' }
    if (this.options.tree === 'installed' && under(abs, `/lib/modules/${this.options.release}`)) {
      // build and source point at the headers, which the VM does not have either: not part of the module tree.
      const rel = abs.slice(`/lib/modules/${this.options.release}/`.length)
      return /^(build|source)(\/|$)/.test(rel) ? { kind: 'absent' } : { kind: 'overlay' }
    }
    if (SYSROOT_PLACES.some((p) => under(abs, p))) {
      if (this.options.sysroot !== undefined) return { kind: 'host', host: posix.join(this.options.sysroot, abs) }
      return { kind: 'mem' }
    }
    return { kind: 'overlay' }
  }

  stat(abs: string): VfsStat | undefined {
    const r = this.route(abs)
    if (r.kind === 'kernel') {
      const text = this.kernel.readFile(abs)
      if (text !== undefined) return { type: 'file', size: Buffer.byteLength(text), mtimeMs: 0 }
      return this.kernel.listDir(abs) !== undefined || abs === '/proc' || abs === '/sys' ? { type: 'dir', size: 0, mtimeMs: 0 } : undefined
    }
    if (r.kind === 'absent') return undefined
    if (r.kind === 'mem') return this.memStat(this.mem.get(abs))
    if (r.kind === 'host') return statOf(this.statHost(r.host))
    const node = this.overlay.get(abs)
    if (node) return this.memStat(node)
    if (this.hiddenByOverlay(abs)) return undefined
    return statOf(this.statHost(abs))
  }

  private memStat(node: MemNode | undefined): VfsStat | undefined {
    if (!node || node.type === 'deleted') return undefined
    return node.type === 'dir' ? { type: 'dir', size: 0, mtimeMs: node.mtimeMs } : { type: 'file', size: node.data.length, mtimeMs: node.mtimeMs }
  }

  /** True when an ancestor was deleted or replaced by a file in the overlay. */
  private hiddenByOverlay(abs: string): boolean {
    for (let p = posix.dirname(abs); p !== '/'; p = posix.dirname(p)) {
      const node = this.overlay.get(p)
      if (node && node.type !== 'dir') return true
      if (node) return false
    }
    return false
  }

  /** The host file `abs` reads from, when it is one (not the kernel's, not in memory): a tool may then read parts of it in place. */
  hostPath(abs: string): string | undefined {
    // the caller may change the host file itself: stop remembering stats for the rest of this command
    this.hostStats = undefined
    const r = this.route(abs)
    if (r.kind === 'host') return r.host
    if (r.kind === 'overlay' && !this.overlay.has(abs) && !this.hiddenByOverlay(abs)) return abs
    return undefined
  }

  readFile(abs: string): Uint8Array {
    const r = this.route(abs)
    if (r.kind === 'kernel') {
      const text = this.kernel.readFile(abs)
      if (text === undefined) throw new VfsError(this.stat(abs) ? EISDIR : ENOENT, abs)
      return Buffer.from(text)
    }
    if (r.kind === 'host') return hostRead(r.host, abs, this.statHost(r.host))
    // a host file the overlay does not cover: one stat, in hostRead
    if (r.kind === 'overlay' && !this.overlay.has(abs) && !this.hiddenByOverlay(abs)) return hostRead(abs, abs, this.statHost(abs))
    const st = this.stat(abs)
    if (!st) throw new VfsError(ENOENT, abs)
    if (st.type === 'dir') throw new VfsError(EISDIR, abs)
    const node = (r.kind === 'mem' ? this.mem : this.overlay).get(abs)
    if (node?.type === 'file') return node.data
    return hostRead(abs, abs, this.statHost(abs))
  }

  readText(abs: string): string {
    // the kernel's files are text already: no round trip through bytes
    if (under(abs, '/proc') || under(abs, '/sys')) {
      const text = this.kernel.readFile(abs)
      if (text !== undefined) return text
    }
    return Buffer.from(this.readFile(abs)).toString('utf8')
  }

  writeFile(abs: string, data: Uint8Array | string, append = false): void {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data
    const r = this.route(abs)
    if (r.kind === 'absent') throw new VfsError(EACCES, abs)
    if (r.kind === 'kernel') {
      const err = this.kernel.writeFile(abs, Buffer.from(bytes).toString('utf8'))
      if (err < 0) throw new VfsError(-err, abs)
      return
    }
    const st = this.writable(abs)
    if (r.kind === 'host') {
      this.hostStats?.clear()
      if (append) fs.appendFileSync(r.host, bytes)
      else fs.writeFileSync(r.host, bytes)
      return
    }
    const old = append && st ? this.readFile(abs) : new Uint8Array()
    const merged = Buffer.concat([old, bytes])
    ;(r.kind === 'mem' ? this.mem : this.overlay).set(abs, { type: 'file', data: merged, mtimeMs: this.now() })
  }

  /**
   * Replace the file `abs` with `data` the way depmod writes its outputs: a new file beside it, renamed over it,
   * so that a reader never sees it half written and a hard link to the old file keeps the old bytes (kmod's
   * depmod writes `modules.dep.<pid>.<time>` and renames it). Anywhere but on the host it is writeFile.
   * @example vfs.replaceFile('/lib/modules/6.1.0-56-amd64/modules.dep', text)
   */
  replaceFile(abs: string, data: Uint8Array | string): void {
    const r = this.route(abs)
    if (r.kind !== 'host') return this.writeFile(abs, data)
    this.writable(abs)
    this.hostStats?.clear()
    const tmp = `${r.host}.${process.pid}.tmp`
    try {
      fs.writeFileSync(tmp, data)
      fs.renameSync(tmp, r.host)
    } catch (e) {
      fs.rmSync(tmp, { force: true })
      throw e
    }
  }

  /** The stat of `abs` when a file can be written there (its directory exists, it is not one), else throws VfsError. */
  private writable(abs: string): VfsStat | undefined {
    const st = this.stat(abs)
    if (st?.type === 'dir') throw new VfsError(EISDIR, abs)
    const parent = this.stat(posix.dirname(abs))
    if (!parent) throw new VfsError(ENOENT, abs)
    if (parent.type !== 'dir') throw new VfsError(ENOTDIR, abs)
    return st
  }

  mkdir(abs: string, parents = false): void {
    const st = this.stat(abs)
    if (st) {
      if (parents && st.type === 'dir') return
      throw new VfsError(EEXIST, abs)
    }
    const parent = posix.dirname(abs)
    const pst = this.stat(parent)
    if (!pst) {
      if (!parents) throw new VfsError(ENOENT, abs)
      this.mkdir(parent, true)
    } else if (pst.type !== 'dir') throw new VfsError(ENOTDIR, abs)
    const r = this.route(abs)
    if (r.kind === 'kernel' || r.kind === 'absent') throw new VfsError(EACCES, abs)
    if (r.kind === 'host') {
      this.hostStats?.clear()
      fs.mkdirSync(r.host)
    } else (r.kind === 'mem' ? this.mem : this.overlay).set(abs, { type: 'dir', mtimeMs: this.now() })
  }

  /** Remove a file (not a directory), like unlink(2). */
  unlink(abs: string): void {
    const st = this.stat(abs)
    if (!st) throw new VfsError(ENOENT, abs)
    if (st.type === 'dir') throw new VfsError(EISDIR, abs)
    const r = this.route(abs)
    if (r.kind === 'kernel' || r.kind === 'absent') throw new VfsError(EACCES, abs)
    if (r.kind === 'host') {
      this.hostStats?.clear()
      fs.unlinkSync(r.host)
    } else if (r.kind === 'mem') this.mem.delete(abs)
    else this.overlay.set(abs, { type: 'deleted' })
  }

  /** Entry names of a directory, unsorted (as readdir gives them). */
  readdir(abs: string): string[] {
    const st = this.stat(abs)
    if (!st) throw new VfsError(ENOENT, abs)
    if (st.type !== 'dir') throw new VfsError(ENOTDIR, abs)
    const r = this.route(abs)
    if (r.kind === 'kernel') return this.kernel.listDir(abs) ?? (abs === '/proc' || abs === '/sys' ? [] : [])
    if (r.kind === 'host') return mountPoints(abs, fs.readdirSync(r.host))
    const names = new Set<string>()
    const layer = r.kind === 'mem' ? this.mem : this.overlay
    if (r.kind === 'overlay' && this.overlay.get(abs)?.type !== 'dir') {
      try {
        for (const n of fs.readdirSync(abs)) names.add(n)
      } catch {
        // a directory that exists only in the overlay
      }
    }
    const prefix = abs === '/' ? '/' : abs + '/'
    for (const [path, node] of layer) {
      if (!path.startsWith(prefix) || path.length === prefix.length) continue
      const name = path.slice(prefix.length)
      if (name.includes('/')) continue
      if (node.type === 'deleted') names.delete(name)
      else names.add(name)
    }
    if (r.kind === 'overlay') for (const name of names) if (this.route(posix.join(abs, name)).kind === 'absent') names.delete(name)
    if (abs === '/lib/modules' && this.options.tree === 'installed') names.add(this.options.release)
    return mountPoints(abs, [...names])
  }
}

/** Sysroot places exist even when the host directory under them lacks them (e.g. /etc/modprobe.d). */
function mountPoints(abs: string, names: string[]): string[] {
  if (abs === '/etc' && !names.includes('modprobe.d')) names.push('modprobe.d')
  if (abs === '/etc' && !names.includes('depmod.d')) names.push('depmod.d')
  if (abs === '/lib' && !names.includes('modules')) names.push('modules')
  return names
}

/** A host file's bytes as read last, with what identified that version of it (inode, size, mtime, ctime). */
interface CachedRead {
  ino: number
  size: number
  mtimeMs: number
  ctimeMs: number
  data: Uint8Array
}

/**
 * The host files read lately, like the kernel's page cache: a spec loads the same .ko on every fresh kernel,
 * and reading it again costs more than the load's own checks. A file whose inode, size, mtime or ctime changed
 * (rebuilt, replaced, touched) is read again. File times tick coarsely (a few ms), so a file changed within
 * the last RACY_MS is not kept: its next change could carry the same times (git's "racily clean" rule).
 * Callers never write into the bytes they get.
 */
const hostReads = new Map<string, CachedRead>()
let hostReadBytes = 0
const HOST_READ_LIMIT = 64 * 1024 * 1024
const HOST_READ_FILE_LIMIT = 16 * 1024 * 1024
const RACY_MS = 2000

/** The bytes of host file `path` (`abs` is its name inside the machine, for errors), whose stat is `st`. */
function hostRead(path: string, abs: string, st: fs.Stats | undefined): Uint8Array {
  if (!st) throw new VfsError(ENOENT, abs)
  if (st.isDirectory()) throw new VfsError(EISDIR, abs)
  const known = hostReads.get(path)
  if (known && known.ino === st.ino && known.size === st.size && known.mtimeMs === st.mtimeMs && known.ctimeMs === st.ctimeMs) {
    // most recently used last: the oldest go first when the cache is full
    hostReads.delete(path)
    hostReads.set(path, known)
    return known.data
  }
  let data: Uint8Array
  try {
    data = fs.readFileSync(path)
  } catch (e) {
    throw new VfsError(hostErrno(e), abs)
  }
  if (known) {
    hostReads.delete(path)
    hostReadBytes -= known.data.length
  }
  if (data.length <= HOST_READ_FILE_LIMIT && data.length === st.size && Date.now() - st.ctimeMs > RACY_MS) {
    hostReads.set(path, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, data })
    // kept and handed out as it is: the loader may find what it worked out from these bytes by identity
    neverChanges(data)
    hostReadBytes += data.length
    for (const [p, c] of hostReads) {
      if (hostReadBytes <= HOST_READ_LIMIT) break
      hostReads.delete(p)
      hostReadBytes -= c.data.length
    }
  }
  return data
}

/** The errno of a failed host fs call (EIO when node gives none). */
function hostErrno(e: unknown): number {
  const code = (e as NodeJS.ErrnoException).code
  const n = code !== undefined ? (errno as Record<string, number>)[code] : undefined
  return n ?? EIO
}

function statOf(st: fs.Stats | undefined): VfsStat | undefined {
  if (!st) return undefined
  if (st.isDirectory()) return { type: 'dir', size: 0, mtimeMs: st.mtimeMs }
  return { type: 'file', size: st.size, mtimeMs: st.mtimeMs }
}
