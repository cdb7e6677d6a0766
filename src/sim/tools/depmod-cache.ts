/**
 * A persistent cache of depmod's per-module facts, so that a second depmod over the same tree reads no
 * module: one file per module tree (its real host path) under `$XDG_CACHE_HOME/kmodspec/depmod/` (default
 * ~/.cache/kmodspec). An entry is keyed by the module's path and kept only while the file's size and mtime
 * (to the nanosecond) are the same. A missing, unreadable or corrupt cache is an empty one, rewritten at
 * the end of the run; a cache that cannot be written is skipped. Only the most recent trees are kept.
 * The entries are stored with V8's serializer (node:v8), which writes the 6.1 tree's facts in 19 ms where
 * encoding them in JS took 45 ms of a first run; they are read back only when a run asks for one, so a
 * run that replays its last outputs never reads them, and checked before they are trusted.
 * Beside it (`<tree>.out/`), the output files of the last run, kept as hard links to the files it wrote, are
 * replayed by a run whose inputs (digested) are all the same, unless one was written since (its mtime moved).
 */
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { deserialize, serialize } from 'node:v8'
import type { DepmodFacts, Stamp } from './depmod-read.js'
import { decodeSegment, type Entry } from './depmod-segment.js'

export type { Stamp } from './depmod-read.js'

/** Bumped whenever DepmodFacts or how it is read changes: an older file is then ignored. */
const FORMAT = 'kmodspec depmod facts 4'
/** Trees whose cache is kept; the least recently written go first. */
const MAX_TREES = 6
/** The cache directory: $XDG_CACHE_HOME/kmodspec/depmod, else ~/.cache/kmodspec/depmod. */
export function factsCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache')
  return path.join(base, 'kmodspec', 'depmod')
}

/** The file's first line (JSON: format, tree and the V8 that serialized the rest). */
function headLine(head: object): string {
  return JSON.stringify(head) + '\n'
}

/** What a cache file stores after its first line: the entries as parallel lists. */
interface Stored {
  keys: string[]
  sizes: Float64Array
  mtimes: Float64Array
  facts: DepmodFacts[]
}

/** True when every one of `a`'s `a.length` elements is a string (a hole is not). */
function strings(a: unknown): a is string[] {
  if (!Array.isArray(a)) return false
  for (let i = 0; i < a.length; i++) if (typeof a[i] !== 'string') return false
  return true
}

/** True when `f` has DepmodFacts' shape, its weak needs among its needs. */
function isFacts(f: unknown): f is DepmodFacts {
  if (typeof f !== 'object' || f === null) return false
  const { err, aliases, softdeps, exports, needs, weak } = f as Record<string, unknown>
  if (!Number.isInteger(err) || !strings(aliases) || !strings(softdeps) || !strings(exports) || !strings(needs) || !Array.isArray(weak)) return false
  for (let i = 0; i < weak.length; i++) {
    const k: unknown = weak[i]
    if (!Number.isInteger(k) || (k as number) < 0 || (k as number) >= needs.length) return false
  }
  return true
}

/** The entries of a deserialized cache, or undefined when it is not what save() wrote. */
function entriesOf(v: unknown): Map<string, Entry> | undefined {
  if (typeof v !== 'object' || v === null) return undefined
  const { keys, sizes, mtimes, facts } = v as Stored
  if (!strings(keys) || !(sizes instanceof Float64Array) || !(mtimes instanceof Float64Array) || !Array.isArray(facts)) return undefined
  const n = keys.length
  if (sizes.length !== n || mtimes.length !== n || facts.length !== n) return undefined
  const out = new Map<string, Entry>()
  for (let i = 0; i < n; i++) {
    const f: unknown = facts[i]
    if (!isFacts(f)) return undefined
    out.set(keys[i]!, { size: sizes[i]!, mtimeMs: mtimes[i]!, facts: f })
  }
  return out
}

/** The facts cache of one tree for one depmod run: look up by path and stamp, remember new facts, save once. */
export class FactsCache {
  private entries = new Map<string, Entry>()
  /** The cache file's serialized entries, read into `entries` on first use (see the file comment). */
  private stored: Buffer | undefined
  private used = new Set<string>()
  private changed = false
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
      const head = JSON.parse(data.subarray(0, nl).toString()) as { format?: unknown; tree?: unknown; v8?: unknown }
      // V8's serializer of another Node may write what this one cannot read
      if (head.format === FORMAT && head.tree === real && head.v8 === process.versions.v8 && data.length > nl + 1) this.stored = data.subarray(nl + 1)
    } catch {
      // no cache yet, or one that cannot be read: start empty, it is rewritten at the end of the run
    }
  }

  /** The entries, the file's read in first (a corrupt or truncated file: none of it is trusted, none kept). */
  private load(): Map<string, Entry> {
    const stored = this.stored
    if (stored) {
      this.stored = undefined
      try {
        this.entries = entriesOf(deserialize(stored)) ?? this.entries
      } catch {
        // not what save() wrote: nothing is cached
      }
    }
    return this.entries
  }

  /** True when nothing is cached for this tree (its first run, or a cache that could not be read). */
  get empty(): boolean {
    return this.stored === undefined && this.entries.size === 0
  }

  /** The cached facts of the module at `key` if its size and mtime are still those cached. */
  get(key: string, st: Stamp): DepmodFacts | undefined {
    const e = this.load().get(key)
    if (!e || e.size !== st.size || e.mtimeMs !== st.mtimeMs) return undefined
    this.used.add(key)
    return e.facts
  }

  set(key: string, st: Stamp, facts: DepmodFacts): void {
    this.load().set(key, { size: st.size, mtimeMs: st.mtimeMs, facts })
    this.used.add(key)
    this.changed = true
  }

  /** Take the entries of a segment (depmod-segment.ts; the helper thread's facts): their keys and stamps (none when it is not a segment: nothing taken). */
  absorb(seg: Buffer): Array<[string, Stamp]> {
    const got = decodeSegment(seg, 0)
    if (!got || got.next !== seg.length) return []
    const entries = this.load()
    for (const [key, e] of got.entries) {
      entries.set(key, e)
      this.used.add(key)
    }
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
    const entries = this.load()
    if (!this.changed && this.used.size === entries.size) return
    const tmp = `${this.file}.${process.pid}.tmp`
    let fd: number | undefined
    try {
      const keys = [...this.used]
      const stored: Stored = { keys, sizes: new Float64Array(keys.length), mtimes: new Float64Array(keys.length), facts: [] }
      keys.forEach((key, i) => {
        const e = entries.get(key)!
        stored.sizes[i] = e.size
        stored.mtimes[i] = e.mtimeMs
        stored.facts.push(e.facts)
      })
      fs.mkdirSync(this.dir, { recursive: true })
      fd = fs.openSync(tmp, 'w')
      writeAll(fd, headLine({ format: FORMAT, tree: this.tree, v8: process.versions.v8 }))
      writeAll(fd, serialize(stored))
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
