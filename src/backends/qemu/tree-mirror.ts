/**
 * Keeps the VM's /lib/modules/<release> a faithful view of the host's installed tree plus the run's
 * own files, uploading lazily (see tree.ts for what a command needs).
 */
import { readFileSync } from 'node:fs'
import { mkdir, readdir, readFile, rm, stat, symlink } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { dir as tmpDir, type DirectoryResult } from 'tmp-promise'
import type { ExecResult } from '../types.js'
import { parseModprobeConfig, TreeIndex, treeNeeds } from './tree.js'

/** What the mirror needs of the VM. */
export interface TreeVm {
  put(file: string, mode: number, data: Uint8Array, timeoutMs: number): Promise<void>
  mkdir(dir: string, timeoutMs: number): Promise<void>
}

/** Where kmod reads modprobe.d configuration. */
const modprobeDirs = ['/etc/modprobe.d', '/run/modprobe.d', '/usr/local/lib/modprobe.d', '/lib/modprobe.d']

/** kmod's depmod, the binary the VM's initramfs holds (its /sbin/depmod is a link to the same /usr/bin/kmod). */
const depmodBinary = '/sbin/depmod'

export class TreeMirror {
  /** VM path -> what was sent there since the last restore (host file, size, mtime). */
  private sent = new Map<string, string>()
  /** Tree-relative path -> the host file the run copied there (cp into the tree). */
  private own = new Map<string, string>()
  /** Tree-relative paths the run removed. */
  private removed = new Set<string>()
  /** Tree-relative directories the run made. */
  private dirs = new Set<string>()
  /** The run's own modprobe.d files (VM path -> text): their aliases and softdeps choose modules too. */
  private configs = new Map<string, string>()
  private index: TreeIndex | undefined
  /** Where the current modules.* live: the host tree, or the last depmod's output. */
  private indexDir: string
  private stage: DirectoryResult | undefined
  /** What the staging tree links to, by tree-relative path. */
  private placed = new Map<string, string>()
  private hostFiles: string[] | undefined

  constructor(
    readonly release: string,
    private readonly hostDir = `/lib/modules/${release}`,
    private readonly timeoutMs = 120_000,
  ) {
    this.indexDir = hostDir
  }

  private get root(): string {
    return `/lib/modules/${this.release}`
  }

  /** A fresh VM: nothing uploaded, the host tree's own indexes. */
  reset(): void {
    this.sent.clear()
    this.own.clear()
    this.removed.clear()
    this.dirs.clear()
    this.configs.clear()
    this.index = undefined
    this.indexDir = this.hostDir
  }

  async close(): Promise<void> {
    await this.stage?.cleanup()
    this.stage = undefined
  }

  private async currentIndex(): Promise<TreeIndex> {
    this.index ??= await TreeIndex.read(this.indexDir)
    return this.index
  }

  /**
   * Uploads what `argv` will read from the tree. Returns the result of a depmod run on the host
   * when `argv` is a depmod of the tree (the caller then does not run it in the VM).
   */
  async before(vm: TreeVm, argv: readonly string[], cwd: string): Promise<ExecResult | undefined> {
    const needs = treeNeeds(
      argv,
      cwd,
      this.release,
      await this.currentIndex(),
      this.configs.size > 0 ? parseModprobeConfig([...this.configs.values()]) : undefined,
    )
    if (needs.indexes) await this.sendIndexes(vm)
    for (const rel of needs.files) await this.sendFile(vm, rel)
    return needs.depmod ? this.depmod(vm, argv) : undefined
  }

  /**
   * Records what a command that ran in the VM did to the tree (cp, rm, mkdir), for the next depmod,
   * and to modprobe.d (echo > FILE, cp, rm), for the next modprobe's uploads.
   */
  async after(argv: readonly string[], cwd: string, exitCode: number, redirect?: { redirect: string; file: string }): Promise<void> {
    if (exitCode !== 0) return
    const [tool, ...args] = argv
    this.noteConfig(tool, args, cwd, redirect)
    const words = args.filter((w) => !w.startsWith('-'))
    const rel = (w: string): string | undefined => {
      const abs = path.posix.resolve(cwd, w)
      return abs.startsWith(this.root + '/') ? abs.slice(this.root.length + 1) : undefined
    }
    if (tool === 'mkdir') for (const w of words) if (rel(w)) this.dirs.add(rel(w)!)
    if (tool === 'rm') {
      for (const w of words) {
        const r = rel(w)
        if (r === undefined) continue
        this.own.delete(r)
        this.removed.add(r)
      }
    }
    if (tool === 'cp' && words.length >= 2) {
      const dest = words.at(-1)!
      const destRel = rel(dest)
      if (destRel === undefined) return
      const sources = words.slice(0, -1)
      const intoDir = sources.length > 1 || dest.endsWith('/') || this.dirs.has(destRel) || (await isDir(path.join(this.hostDir, destRel)))
      for (const source of sources) {
        const target = intoDir ? path.posix.join(destRel, path.posix.basename(source)) : destRel
        this.own.set(target, path.resolve(cwd, source))
        this.removed.delete(target)
      }
    }
  }

  private noteConfig(tool: string | undefined, args: string[], cwd: string, redirect?: { redirect: string; file: string }): void {
    const conf = (w: string): string | undefined => {
      const abs = path.posix.resolve(cwd, w)
      return modprobeDirs.includes(path.posix.dirname(abs)) && abs.endsWith('.conf') ? abs : undefined
    }
    if (tool === 'echo' && redirect && conf(redirect.file)) {
      // busybox echo: its words joined by blanks, a newline unless -n.
      const newline = args[0] !== '-n'
      const text = (newline ? args : args.slice(1)).join(' ') + (newline ? '\n' : '')
      const at = conf(redirect.file)!
      this.configs.set(at, (redirect.redirect === '>>' ? (this.configs.get(at) ?? '') : '') + text)
    }
    const words = args.filter((w) => !w.startsWith('-'))
    if (tool === 'rm') for (const w of words) if (conf(w)) this.configs.delete(conf(w)!)
    if (tool === 'cp' && words.length >= 2) {
      const dest = path.posix.resolve(cwd, words.at(-1)!)
      for (const source of words.slice(0, -1)) {
        const at = modprobeDirs.includes(dest) ? path.posix.join(dest, path.posix.basename(source)) : dest
        if (!conf(at)) continue
        try {
          this.configs.set(at, readFileSync(path.resolve(cwd, source), 'utf8'))
        } catch {
          // not a host file: the VM copied one of its own, which holds nothing we could have uploaded
        }
      }
    }
  }

  /** Every modules.* file of the current indexes (small: ~5 MB for Debian's 4,023 modules). */
  private async sendIndexes(vm: TreeVm): Promise<void> {
    const names = (await readdir(this.indexDir)).filter((n) => n.startsWith('modules.')).sort()
    for (const name of names) await this.send(vm, `${this.root}/${name}`, path.join(this.indexDir, name))
    // The tree's directories, so `ls` of the release's directory shows what the simulator shows.
    for (const name of await readdir(this.hostDir, { withFileTypes: true })) {
      if (name.isDirectory() && !this.sent.has(`${this.root}/${name.name}`)) {
        await vm.mkdir(`${this.root}/${name.name}`, this.timeoutMs)
        this.sent.set(`${this.root}/${name.name}`, 'dir')
      }
    }
  }

  private async sendFile(vm: TreeVm, rel: string): Promise<void> {
    if (this.removed.has(rel) || this.own.has(rel)) return // the VM holds the run's own version, or none
    const host = path.join(this.hostDir, rel)
    const st = await stat(host).catch(() => undefined)
    if (!st?.isFile()) return
    await this.send(vm, `${this.root}/${rel}`, host)
  }

  private async send(vm: TreeVm, vmPath: string, host: string): Promise<void> {
    const st = await stat(host)
    const key = `${host}:${st.size}:${st.mtimeMs}`
    if (this.sent.get(vmPath) === key) return
    await vm.put(vmPath, 0o644, await readFile(host), this.timeoutMs)
    this.sent.set(vmPath, key)
  }

  /** Every module file of the host tree, relative to it (read once). */
  private async treeFiles(): Promise<string[]> {
    if (!this.hostFiles) {
      const all = (await readdir(this.hostDir, { recursive: true })) as string[]
      this.hostFiles = all.filter((f) => /\.ko(\.xz|\.zst|\.gz)?$/.test(f) && !/^(build|source)\//.test(f)).sort()
    }
    return this.hostFiles
  }

  /**
   * kmod's depmod, on the host, over a staging copy of the VM's tree (see staged()). Its messages
   * name the VM's paths; its indexes are uploaded.
   */
  private async depmod(vm: TreeVm, argv: readonly string[]): Promise<ExecResult> {
    const { base, top } = await this.staged()
    const args = argv.slice(1).filter((w) => w !== this.release)
    const r = await execa(depmodBinary, [...args, '-b', base, this.release], { reject: false, argv0: 'depmod', stripFinalNewline: false, env: { LC_ALL: 'C' } })
    const unstage = (t: string) =>
      String(t ?? '')
        .split(base)
        .join('')
    // -n prints the indexes instead of writing them.
    const dryRun = args.some((a) => a === '--dry-run' || a === '--show' || (/^-[a-zA-Z]+$/.test(a) && a.includes('n')))
    if (r.exitCode === 0 && !dryRun) {
      this.indexDir = top
      this.index = undefined
      await this.sendIndexes(vm)
    }
    return { argv: [...argv], exitCode: r.exitCode ?? 1, stdout: unstage(r.stdout as string), stderr: unstage(r.stderr as string), dmesg: [] }
  }

  /**
   * The staging copy of the VM's tree for depmod, made once and then brought up to date: links to the
   * host tree's modules (less the removed ones), the run's own files, and the tree's inputs.
   */
  private async staged(): Promise<{ base: string; top: string }> {
    if (!this.stage) {
      this.stage = await tmpDir({ prefix: 'kmodspec-tree-', unsafeCleanup: true })
      this.placed.clear()
    }
    const base = this.stage.path
    const top = path.join(base, 'lib/modules', this.release)
    const want = new Map<string, string>()
    for (const rel of await this.treeFiles()) if (!this.removed.has(rel) && !this.own.has(rel)) want.set(rel, path.join(this.hostDir, rel))
    for (const [rel, host] of this.own) if (/\.ko(\.xz|\.zst|\.gz)?$/.test(rel)) want.set(rel, host)
    for (const name of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) {
      if (!this.removed.has(name) && (await stat(path.join(this.hostDir, name)).catch(() => undefined))) want.set(name, path.join(this.hostDir, name))
    }
    for (const [rel, host] of this.placed) {
      if (want.get(rel) === host) continue
      await rm(path.join(top, rel), { force: true })
      this.placed.delete(rel)
    }
    const missing = [...want].filter(([rel, host]) => this.placed.get(rel) !== host)
    for (const dir of new Set(missing.map(([rel]) => path.dirname(path.join(top, rel))))) await mkdir(dir, { recursive: true })
    // ~4,000 links the first time: a few hundred at once.
    for (let i = 0; i < missing.length; i += 256) {
      await Promise.all(missing.slice(i, i + 256).map(([rel, host]) => symlink(host, path.join(top, rel))))
    }
    for (const [rel, host] of missing) this.placed.set(rel, host)
    return { base, top }
  }
}

async function isDir(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isDirectory() === true
}
