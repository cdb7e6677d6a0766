import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { constants as zlibConstants, gunzipSync, gzipSync } from 'node:zlib'
import { ProfileError } from './headers.js'
import type { KernelConfigFacts, KernelProfile, KernelSymbol } from './types.js'

/** Release of the profile that ships in the package (Debian 12's 6.1 amd64 kernel). */
export const EMBEDDED_RELEASE = '6.1.0-56-amd64'

/** Compressed bytes inflated to find the first line before inflating the whole file. */
const HEAD_BYTES = 16 * 1024

/** Format version of the serialized profile; bump when the layout changes. */
const FORMAT = 2

/** [name, crc, module index, gpl (0/1), namespace?] */
type StoredSymbol = [string, number, number, 0 | 1] | [string, number, number, 0 | 1, string]

/**
 * Compact on-disk shape: two lines of JSON, gzip'd. The first holds the release, vermagic, config and module
 * names, inflated from the start of the file alone; the second the ~25,000 symbols as tuples, inflated and
 * parsed only when a simulated kernel first looks one up (a run that loads no module, such as depmod, never
 * does: 23 ms of a CLI run's start).
 */
interface StoredProfile {
  format: number
  release: string
  vermagic: string
  version?: string
  config: KernelConfigFacts
  modules: string[]
}

/** Serialize a profile as gzip'd JSON lines (what scripts/make-profile.mjs writes into profiles/). */
export function serializeProfile(p: KernelProfile): Uint8Array {
  const modules: string[] = []
  const modIndex = new Map<string, number>()
  const symbols: StoredSymbol[] = []
  for (const s of p.symbols.values()) {
    let mi = modIndex.get(s.module)
    if (mi === undefined) modIndex.set(s.module, (mi = modules.push(s.module) - 1))
    symbols.push(s.namespace ? [s.name, s.crc, mi, s.gpl ? 1 : 0, s.namespace] : [s.name, s.crc, mi, s.gpl ? 1 : 0])
  }
  const stored: StoredProfile = { format: FORMAT, release: p.release, vermagic: p.vermagic, config: p.config, modules }
  if (p.version !== undefined) stored.version = p.version
  return gzipSync(`${JSON.stringify(stored)}\n${JSON.stringify(symbols)}`, { level: 9 })
}

/**
 * The kernel's exports as a Map made on first use: ~25,000 entries, which a run that loads no module
 * (depmod, modinfo, a script of file commands) never reads.
 */
class StoredSymbols extends Map<string, KernelSymbol> {
  private stored: { read: () => StoredSymbol[]; modules: string[] } | undefined

  /** `read`: the stored tuples (parsed and checked then; it throws a ProfileError for bad ones). */
  constructor(read: () => StoredSymbol[], modules: string[]) {
    super()
    this.stored = { read, modules }
  }

  private fill(): void {
    const stored = this.stored
    if (!stored) return
    const symbols = stored.read()
    this.stored = undefined
    for (const [name, crc, mi, gpl, namespace] of symbols) {
      const s: KernelSymbol = { name, crc, gpl: gpl === 1, module: stored.modules[mi]! }
      if (namespace) s.namespace = namespace
      super.set(name, s)
    }
  }

  override get(key: string): KernelSymbol | undefined {
    this.fill()
    return super.get(key)
  }
  override has(key: string): boolean {
    this.fill()
    return super.has(key)
  }
  override set(key: string, value: KernelSymbol): this {
    this.fill()
    return super.set(key, value)
  }
  override delete(key: string): boolean {
    this.fill()
    return super.delete(key)
  }
  override clear(): void {
    this.stored = undefined
    super.clear()
  }
  override get size(): number {
    this.fill()
    return super.size
  }
  override forEach(fn: (value: KernelSymbol, key: string, map: Map<string, KernelSymbol>) => void, thisArg?: unknown): void {
    this.fill()
    super.forEach(fn, thisArg)
  }
  override entries(): MapIterator<[string, KernelSymbol]> {
    this.fill()
    return super.entries()
  }
  override keys(): MapIterator<string> {
    this.fill()
    return super.keys()
  }
  override values(): MapIterator<KernelSymbol> {
    this.fill()
    return super.values()
  }
  override [Symbol.iterator](): MapIterator<[string, KernelSymbol]> {
    return this.entries()
  }
}

/**
 * Inverse of {@link serializeProfile}: the symbols are parsed on first use.
 * @throws ProfileError for data that is not a stored profile (bad symbols: on the first look-up).
 */
export function deserializeProfile(bytes: Uint8Array, source = 'profile'): KernelProfile {
  const regenerate = 'regenerate it with node scripts/make-profile.mjs'
  let stored: StoredProfile
  let nl: number
  try {
    // the first line alone, from the start of the stream (the embedded profile's 30 KB line is in its first 9 KB)
    let head = gunzipSync(bytes.subarray(0, HEAD_BYTES), { finishFlush: zlibConstants.Z_SYNC_FLUSH })
    nl = head.indexOf(10)
    if (nl < 0 && bytes.length > HEAD_BYTES) {
      head = gunzipSync(bytes)
      nl = head.indexOf(10)
    }
    stored = JSON.parse(head.toString('utf8', 0, nl < 0 ? head.length : nl)) as StoredProfile
  } catch (e) {
    throw new ProfileError(`${source} is not a gzip'd JSON kernel profile (${(e as Error).message}); ${regenerate}`)
  }
  if (stored?.format !== FORMAT || nl < 0 || !Array.isArray(stored.modules)) {
    throw new ProfileError(`${source} has format ${String(stored?.format)}, expected ${FORMAT}; ${regenerate}`)
  }
  const modules = stored.modules
  const read = (): StoredSymbol[] => {
    let symbols: unknown
    try {
      const all = gunzipSync(bytes)
      symbols = JSON.parse(all.toString('utf8', all.indexOf(10) + 1))
    } catch (e) {
      throw new ProfileError(`${source}: its symbols are not gzip'd JSON (${(e as Error).message}); ${regenerate}`)
    }
    if (!Array.isArray(symbols)) throw new ProfileError(`${source}: its symbols are not a list; ${regenerate}`)
    for (const t of symbols as unknown[]) {
      if (!Array.isArray(t)) throw new ProfileError(`${source}: a symbol is not a [name, crc, module, gpl] list; ${regenerate}`)
      const [name, , mi] = t as StoredSymbol
      if (modules[mi] === undefined) {
        throw new ProfileError(`${source}: symbol ${name} names module #${mi}, past the ${modules.length} stored module names; ${regenerate}`)
      }
    }
    return symbols as StoredSymbol[]
  }
  const symbols = new StoredSymbols(read, modules)
  // A fact recorded after a profile was stored reads as off (preemptRt: only -rt kernels have it).
  const p: KernelProfile = { release: stored.release, vermagic: stored.vermagic, symbols, config: { preemptRt: false, ...stored.config } }
  if (stored.version !== undefined) p.version = stored.version
  return p
}

/** Where the embedded profile lives: `<package>/profiles/`, from src/profile/ and dist/profile/ alike. */
export function embeddedProfilePath(release = EMBEDDED_RELEASE): string {
  return fileURLToPath(new URL(`../../profiles/${release}.json.gz`, import.meta.url))
}

let cached: KernelProfile | undefined

/**
 * The default kernel profile that ships in the package (Debian 12, 6.1.0-56-amd64): needs
 * nothing installed. Parsed once and shared by every simulated kernel, so it is read-only.
 * @example const { release, vermagic } = loadEmbeddedProfile()
 */
export function loadEmbeddedProfile(): KernelProfile {
  if (cached) return cached
  const file = embeddedProfilePath()
  let bytes: Uint8Array
  try {
    bytes = readFileSync(file)
  } catch (e) {
    throw new ProfileError(
      `the embedded kernel profile ${file} is missing (${(e as NodeJS.ErrnoException).code}); the package is incomplete: regenerate it with node scripts/make-profile.mjs`,
    )
  }
  cached = deserializeProfile(bytes, file)
  return cached
}
