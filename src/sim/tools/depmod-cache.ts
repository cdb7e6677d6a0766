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

export type { Stamp } from './depmod-read.js'

/** Bumped whenever DepmodFacts or how it is read changes: an older file is then ignored. */
const FORMAT = 'kmodspec depmod facts 2'
/** Trees whose cache is kept; the least recently written go first. */
const MAX_TREES = 6
/** Fields are C strings (never a NUL), so a NUL separates them. */
const SEP = '\0'

interface Entry {
  size: number
  mtimeMs: number
  facts: DepmodFacts
}

/** The cache directory: $XDG_CACHE_HOME/kmodspec/depmod, else ~/.cache/kmodspec/depmod. */
export function factsCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache')
  return path.join(base, 'kmodspec', 'depmod')
}

/** One entry as its fields joined by NULs: path, size, mtime, err, then each list as its length and its items. */
function encode(key: string, e: Entry): string {
  const f = e.facts
  // one join per list: no array of every field (time, memory)
  const list = (items: unknown[]) => (items.length ? `${SEP}${items.length}${SEP}${items.join(SEP)}` : `${SEP}0`)
  return `${key}${SEP}${e.size}${SEP}${e.mtimeMs}${SEP}${f.err}${list(f.aliases)}${list(f.softdeps)}${list(f.exports)}${list(f.needs)}${list(f.weak)}`
}

/**
 * One cache entry as the cache file holds it (its fields joined by NULs); entries are joined by a NUL too.
 * depmod's helper thread hands its facts over in this form (one string is cheap to pass between threads).
 * @example encodeEntry('/lib/modules/R/kernel/a.ko', { size: 1, mtimeMs: 2 }, facts)
 */
export function encodeEntry(key: string, st: Stamp, facts: DepmodFacts): string {
  return encode(key, { size: st.size, mtimeMs: st.mtimeMs, facts })
}

/** Every entry of a cache body, or undefined when any field is not what encode() writes (a corrupt file). */
function decode(fields: string[]): Map<string, Entry> | undefined {
  const out = new Map<string, Entry>()
  let i = 0
  const num = () => {
    const n = Number(fields[i++])
    return fields[i - 1] === '' || !Number.isFinite(n) ? undefined : n
  }
  const list = () => {
    const n = num()
    if (n === undefined || !Number.isInteger(n) || n < 0 || i + n > fields.length) return undefined
    i += n
    return fields.slice(i - n, i)
  }
  while (i < fields.length) {
    const key = fields[i++]!
    const size = num()
    const mtimeMs = num()
    const err = num()
    const aliases = list()
    const softdeps = list()
    const exports = list()
    const needs = list()
    const weakText = list()
    if (size === undefined || mtimeMs === undefined || err === undefined || !aliases || !softdeps || !exports || !needs || !weakText) return undefined
    const weak = weakText.map(Number)
    if (!weak.every((n) => Number.isInteger(n) && n >= 0 && n < needs.length)) return undefined
    out.set(key, { size, mtimeMs, facts: { err, aliases, softdeps, exports, needs, weak } })
  }
  return out
}

/** The facts cache of one tree for one depmod run: look up by path and stamp, remember new facts, save once. */
export class FactsCache {
  private entries = new Map<string, Entry>()
  private used = new Set<string>()
  private changed = false
  /** Entries taken by absorb(), and its texts, written as they are (empty once one of them was replaced). */
  private absorbed = new Set<string>()
  private texts: string[] = []
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
      const text = fs.readFileSync(this.file, 'utf8')
      const nl = text.indexOf('\n')
      const head = JSON.parse(text.slice(0, nl)) as { format?: unknown; tree?: unknown }
      if (head.format === FORMAT && head.tree === real) {
        const body = text.slice(nl + 1)
        this.entries = (body ? decode(body.split(SEP)) : new Map()) ?? new Map()
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
    // an absorbed entry replaced: the absorbed text is no longer what the cache holds
    if (this.absorbed.has(key)) this.texts = []
    this.entries.set(key, e)
    this.used.add(key)
    this.changed = true
  }

  /**
   * Take entries as encodeEntry() wrote them (joined by NULs), kept as they are for save(); their keys and
   * stamps (none when the text is not such entries: nothing taken).
   */
  absorb(text: string): Array<[string, Stamp]> {
    const got = text ? decode(text.split(SEP)) : new Map<string, Entry>()
    if (!got) return []
    for (const [key, e] of got) {
      this.entries.set(key, e)
      this.used.add(key)
      this.absorbed.add(key)
    }
    this.texts.push(text)
    this.changed = true
    return [...got].map(([key, e]) => [key, { size: e.size, mtimeMs: e.mtimeMs }])
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
      // written a piece at a time: no one string of the whole cache (peak memory)
      let piece = JSON.stringify({ format: FORMAT, tree: this.tree }) + '\n'
      let first = true
      const verbatim = this.texts.length > 0 && this.texts.every((t) => (t as WellFormed).isWellFormed())
      if (verbatim)
        for (const text of this.texts) {
          if (!text) continue
          writeAll(fd, first ? piece + text : piece + SEP + text)
          piece = ''
          first = false
        }
      for (const key of this.used) {
        if (verbatim && this.absorbed.has(key)) continue
        const entry = encode(key, this.entries.get(key)!)
        // a string that is not well-formed UTF-16 (raw bytes kept as lone surrogates) would not survive UTF-8: not cached
        if (!(entry as WellFormed).isWellFormed()) continue
        piece += first ? entry : SEP + entry
        first = false
        if (piece.length > 1 << 20) {
          writeAll(fd, piece)
          piece = ''
        }
      }
      writeAll(fd, piece)
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

/** ES2024's String.prototype.isWellFormed (Node 20 has it; the ES2023 lib does not declare it). */
type WellFormed = string & { isWellFormed(): boolean }

/** Write all of `data` at the end of `fd` (writeSync may write less than asked). */
function writeAll(fd: number, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data
  for (let at = 0; at < bytes.length;) at += fs.writeSync(fd, bytes, at, bytes.length - at)
}
