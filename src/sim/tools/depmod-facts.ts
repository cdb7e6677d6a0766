/**
 * depmod's facts of one module: positioned reads of a plain host file (depmod-read.ts), else the whole
 * (decompressed) file through libkmod's reading (elf/kmod.ts's kmodDepmodLoad), so the two agree.
 */
import * as fs from 'node:fs'
import { KmodAbort, kmodDepmodLoad } from '../../elf/kmod.js'
import type { ToolContext } from './context.js'
import { kmodFileOpen } from './decompress.js'
import { readFactsFast, type DepmodFacts, type Stamp } from './depmod-read.js'
import { readAllFacts, type FactsPool, type Jobs } from './depmod-pool.js'
import type { FactsCache } from './depmod-cache.js'
import type { VfsStat } from '../vfs.js'

export { readFactsFast, type DepmodFacts, type Stamp } from './depmod-read.js'

/**
 * The facts from a whole (decompressed) module image through libkmod's reading, or the assertion it aborts on.
 * @example factsFromBytes(readFileSync('hello_api.ko')) // { err: 0, exports: ['api_test'], ... }
 */
export function factsFromBytes(bytes: Uint8Array): DepmodFacts | KmodAbort {
  const got = kmodDepmodLoad(bytes)
  if (got instanceof KmodAbort) return got
  const info = got.info
  const aliases: string[] = []
  const softdeps: string[] = []
  for (const { key, value } of info?.modinfo ?? []) {
    if (key === 'alias') aliases.push(value)
    else if (key === 'softdep') softdeps.push(value)
  }
  const needs: string[] = []
  const weak: number[] = []
  for (const s of info?.symbols ?? []) {
    if (s.bind === 2) weak.push(needs.length)
    needs.push(s.name)
  }
  return { err: got.err, aliases, softdeps, exports: (info?.exports ?? []).map((e) => e.name), needs, weak }
}

/** A module's facts, the assertion libkmod aborts depmod on, or the negative errno of opening it. */
export type Loaded = DepmodFacts | KmodAbort | number

/** What loadFacts asks of a cache (depmod-cache.ts's FactsCache, which imports this file): facts by path for a stamp. */
export interface FactsStore {
  get(key: string, st: Stamp): DepmodFacts | undefined
  set(key: string, st: Stamp, facts: DepmodFacts): void
}

/**
 * depmod_load_modules() for one module: from the cache when its host file is unchanged, else by positioned
 * reads of a host file, else (compressed, in memory, or unusual) the whole file through libkmod's reading.
 * @example const got = loadFacts(ctx, '/lib/modules/6.1.0-56-amd64/kernel/fs/fat/fat.ko', new FactsCache('/lib/modules/6.1.0-56-amd64'))
 */
export function loadFacts(ctx: ToolContext, abs: string, cache?: FactsStore, stamp?: Stamp, hostOf = (p: string) => ctx.vfs.hostPath(p)): Loaded {
  const host = hostOf(abs)
  if (host !== undefined) {
    const hit = stamp && cache?.get(abs, stamp)
    if (hit) return hit
    let fd: number | undefined
    try {
      fd = fs.openSync(host, 'r')
      // the scan's stat of this file stamps it (one syscall fewer per module)
      const st = stamp ?? fs.fstatSync(fd)
      if (stamp || (st as fs.Stats).isFile()) {
        const hit2 = !stamp && cache?.get(abs, st)
        if (hit2) return hit2
        const fast = readFactsFast(fd, st.size)
        if (fast) {
          cache?.set(abs, st, fast)
          return fast
        }
        const got = readWhole(ctx, abs)
        if (!(got instanceof KmodAbort) && typeof got !== 'number') cache?.set(abs, st, got)
        return got
      }
    } catch {
      // cannot open or read it here: the whole-file path below gives libkmod's errno
    } finally {
      if (fd !== undefined) fs.closeSync(fd)
    }
  }
  return readWhole(ctx, abs)
}

/** The whole file (decompressed) through libkmod's reading. */
function readWhole(ctx: ToolContext, abs: string): Loaded {
  const file = kmodFileOpen(ctx, abs)
  if (!file.bytes) return file.err < 0 ? file.err : -5
  return factsFromBytes(file.bytes)
}

/**
 * The files of `paths` to read: host files missing from `cache` (a file without a stamp in `stamps` is
 * stamped as it is read, size and mtime -1 until then); `hostOf`: the VFS's hostPath, or a quicker equivalent.
 * @example const jobs = factsToRead(ctx, mods.map((m) => m.path), cache, stats)
 */
export function factsToRead(
  ctx: ToolContext,
  paths: string[],
  cache: FactsCache,
  stamps: Map<string, VfsStat>,
  hostOf = (p: string) => ctx.vfs.hostPath(p),
): Jobs {
  const keys: string[] = []
  const hosts: string[] = []
  const sizes: number[] = []
  const mtimes: number[] = []
  for (const p of paths) {
    const st = stamps.get(p)
    if (st && cache.get(p, st)) continue
    const host = hostOf(p)
    if (host === undefined) continue
    keys.push(p)
    hosts.push(host)
    sizes.push(st ? st.size : -1)
    mtimes.push(st ? st.mtimeMs : -1)
  }
  return { hosts, keys, sizes, mtimes }
}

/**
 * Read the facts of `jobs` (see factsToRead) into the cache, on both cores (depmod-pool.ts; `pool`: a helper
 * thread started earlier, maybe already given `jobs`); loadFacts then finds them there. Files the fast way
 * cannot read are left to loadFacts. Files read without a stamp get theirs in `stamps`.
 * @example prefetchFacts(ctx, factsToRead(ctx, paths, cache, stats), cache, stats)
 */
export function prefetchFacts(ctx: ToolContext, jobs: Jobs, cache: FactsCache, stamps: Map<string, VfsStat>, pool?: FactsPool): void {
  const { keys, sizes, mtimes } = jobs
  const { facts, segments } = pool ? pool.read(jobs) : readAllFacts(jobs)
  facts.forEach((f, i) => {
    const key = keys[i]!
    let st = stamps.get(key)
    if (!st) {
      // stamped by the reading on this thread (into jobs), else (not read here) stat'ed now
      st = f && mtimes[i]! >= 0 ? { type: 'file', size: sizes[i]!, mtimeMs: mtimes[i]! } : ctx.vfs.stat(key)
      if (st) stamps.set(key, st)
    }
    if (f && st) cache.set(key, st, f)
  })
  for (const seg of segments) for (const [key, st] of cache.absorb(seg)) stamps.set(key, { type: 'file', ...st })
}
