/**
 * A persistent cache of depmod's per-module facts, so that a second depmod over the same tree reads no
 * module: one file per module tree (its real host path) under `$XDG_CACHE_HOME/kmodspec/depmod/` (default
 * ~/.cache/kmodspec). An entry is keyed by the module's path and kept only while the file's size and mtime
 * (to the nanosecond) are the same. A missing, unreadable or corrupt cache is an empty one, rewritten at
 * the end of the run; a cache that cannot be written is skipped. Only the most recent trees are kept.
 * Beside it (`<tree>.out/`), the output files of the last run, kept as hard links to the files it wrote, are
 * replayed by a run whose inputs (digested) are all the same, unless one was written since (its mtime moved).
 */
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { DepmodFacts, Stamp } from './depmod-read.js'
import { decodeSegment, encodeSegment, type Entry } from './depmod-segment.js'

export type { Stamp } from './depmod-read.js'

/** Bumped whenever DepmodFacts or how it is read changes: an older file is then ignored. */
const FORMAT = 'kmodspec depmod facts 3'
/** Trees whose cache is kept; the least recently written go first. */
const MAX_TREES = 6
/** The cache directory: $XDG_CACHE_HOME/kmodspec/depmod, else ~/.cache/kmodspec/depmod. */
export function factsCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache')
  return path.join(base, 'kmodspec', 'depmod')
}

/** The file's first line (JSON: format and tree), padded with blanks so that the segments after it start 8-byte aligned. */
function headLine(head: object): string {
  const json = JSON.stringify(head)
  return json.padEnd(((json.length + 1 + 7) & ~7) - 1) + '\n'
}

/** The facts cache of one tree for one depmod run: look up by path and stamp, remember new facts, save once. */
export class FactsCache {
  private entries = new Map<string, Entry>()
  private used = new Set<string>()
  private changed = false
  /** Entries taken by absorb(), and its segments, written as they are (none once one of them was replaced). */
  private absorbed = new Set<string>()
  private segments: Buffer[] = []
  private readonly file: string

  /** `tree`: the module tree's host directory (its real path names the cache file). */
  constructor(
    private readonly tree: string,
    private readonly dir = factsCacheDir(),
  ) {
    let real = tree
    try {
      real = fs.realpathSync.native(tree)
    } catch {
      // a tree that cannot be resolved is named as given
    }
    this.tree = real
    this.file = path.join(dir, `${createHash('sha256').update(real).digest('hex').slice(0, 16)}.cache`)
    try {
      const data = fs.readFileSync(this.file)
      const nl = data.indexOf(10)
      const head = JSON.parse(data.subarray(0, nl).toString()) as { format?: unknown; tree?: unknown }
      if (head.format === FORMAT && head.tree === real) {
        const entries = new Map<string, Entry>()
        for (let at = nl + 1; at < data.length;) {
          const got = decodeSegment(data, at)
          // a corrupt or truncated file: nothing of it is trusted
          if (!got) throw new Error('corrupt cache')
          for (const [key, e] of got.entries) entries.set(key, e)
          at = got.next
        }
        this.entries = entries
      }
    } catch {
      // no cache yet, or one that cannot be read: start empty, it is rewritten at the end of the run
    }
  }

  /** True when nothing is cached for this tree (its first run, or a cache that could not be read). */
  get empty(): boolean {
    return this.entries.size === 0
  }

  /** The cached facts of the module at `key` if its size and mtime are still those cached. */
  get(key: string, st: Stamp): DepmodFacts | undefined {
    const e = this.entries.get(key)
    if (!e || e.size !== st.size || e.mtimeMs !== st.mtimeMs) return undefined
    this.used.add(key)
    return e.facts
  }

  set(key: string, st: Stamp, facts: DepmodFacts): void {
    const e = { size: st.size, mtimeMs: st.mtimeMs, facts }
    // an absorbed entry replaced: the absorbed segments are no longer what the cache holds
    if (this.absorbed.has(key)) this.segments = []
    this.entries.set(key, e)
    this.used.add(key)
    this.changed = true
  }

  /**
   * Take the entries of a segment (depmod-segment.ts; the helper thread's facts), kept as it is for save();
   * their keys and stamps (none when it is not a segment: nothing taken).
   */
  absorb(seg: Buffer): Array<[string, Stamp]> {
    const got = decodeSegment(seg, 0)
    if (!got || got.next !== seg.length) return []
    for (const [key, e] of got.entries) {
      this.entries.set(key, e)
      this.used.add(key)
      this.absorbed.add(key)
    }
    this.segments.push(seg)
    this.changed = true
    return got.entries.map(([key, e]) => [key, { size: e.size, mtimeMs: e.mtimeMs }])
  }

  /** The last run's output files: a directory holding a link to (or a copy of) each and `head` (format, tree, key, names, sizes, mtimes). */
  private memoDir(): string {
    return this.file.replace(/\.cache$/, '.out')
  }

  /**
   * The output files a run with the same inputs wrote (`key` digests them all: options, configuration,
   * every module's path, size and mtime, modules.order and the built-in lists), as [name, the kept file's path],
   * or undefined; a kept file written since (its size or mtime changed) gives undefined.
   */
  memo(key: string): Array<[string, string]> | undefined {
    try {
      const dir = this.memoDir()
      const head = JSON.parse(fs.readFileSync(path.join(dir, 'head'), 'utf8')) as { format?: unknown; tree?: unknown; key?: unknown; files?: unknown }
      if (head.format !== FORMAT || head.tree !== this.tree || head.key !== key || !Array.isArray(head.files)) return undefined
      const out: Array<[string, string]> = []
      for (const f of head.files as unknown[]) {
        if (!Array.isArray(f) || typeof f[0] !== 'string' || f[0].includes('/') || f[0] === 'head') return undefined
        const kept = path.join(dir, f[0])
        const st = fs.statSync(kept)
        if (st.size !== f[1] || st.mtimeMs !== f[2]) return undefined
        out.push([f[0], kept])
      }
      return out
    } catch {
      return undefined
    }
  }

  /**
   * Keep this run's output files for the next run with the same inputs (see memo()): a hard link to the host
   * file each was just written to (no bytes copied; memo() sees a later write by its mtime), else a copy;
   * failures are ignored.
   */
  setMemo(key: string, files: Array<[name: string, data: Uint8Array | string, host?: string]>): void {
    const dir = this.memoDir()
    const tmp = `${dir}.${process.pid}.tmp`
    try {
      fs.rmSync(tmp, { recursive: true, force: true })
      fs.mkdirSync(tmp, { recursive: true })
      const kept: Array<[string, number, number]> = []
      for (const [name, data, host] of files) {
        const to = path.join(tmp, name)
        let linked = false
        try {
          if (host !== undefined) fs.linkSync(host, to)
          linked = host !== undefined
        } catch {
          // another file system, or no links: a copy
        }
        if (!linked) fs.writeFileSync(to, data)
        const st = fs.statSync(to)
        kept.push([name, st.size, st.mtimeMs])
      }
      fs.writeFileSync(path.join(tmp, 'head'), JSON.stringify({ format: FORMAT, tree: this.tree, key, files: kept }))
      fs.rmSync(dir, { recursive: true, force: true })
      fs.renameSync(tmp, dir)
    } catch {
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  }

  /** Write the entries used in this run when something changed (atomically), and drop the oldest trees' caches; failures are ignored. */
  save(): void {
    if (!this.changed && this.used.size === this.entries.size) return
    const tmp = `${this.file}.${process.pid}.tmp`
    let fd: number | undefined
    try {
      fs.mkdirSync(this.dir, { recursive: true })
      fd = fs.openSync(tmp, 'w')
      writeAll(fd, headLine({ format: FORMAT, tree: this.tree }))
      // the absorbed segments as they are, then one segment of the other entries used
      for (const seg of this.segments) writeAll(fd, seg)
      const verbatim = this.segments.length > 0
      const rest = [...this.used].filter((key) => !(verbatim && this.absorbed.has(key)))
      const entry = (key: string): [string, Stamp, DepmodFacts] => {
        const e = this.entries.get(key)!
        return [key, e, e.facts]
      }
      if (rest.length) writeAll(fd, encodeSegment(rest.map(entry)))
      fs.closeSync(fd)
      fd = undefined
      fs.renameSync(tmp, this.file)
      this.changed = false
      const caches = fs
        .readdirSync(this.dir)
        .filter((n) => n.endsWith('.cache'))
        .map((n) => ({ n, t: fs.statSync(path.join(this.dir, n)).mtimeMs }))
      for (const { n } of caches.sort((a, b) => b.t - a.t).slice(MAX_TREES)) {
        fs.unlinkSync(path.join(this.dir, n))
        fs.rmSync(path.join(this.dir, n.replace(/\.cache$/, '.out')), { recursive: true, force: true })
      }
    } catch {
      // a read-only or full cache directory: depmod's output does not depend on the cache
      if (fd !== undefined) fs.closeSync(fd)
      try {
        fs.unlinkSync(tmp)
      } catch {
        // nothing was written
      }
    }
  }
}

/** Write all of `data` at the end of `fd` (writeSync may write less than asked). */
function writeAll(fd: number, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data
  for (let at = 0; at < bytes.length;) at += fs.writeSync(fd, bytes, at, bytes.length - at)
}
