import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { gunzipSync, gzipSync } from 'node:zlib'
import { ProfileError } from './headers.js'
import type { KernelConfigFacts, KernelProfile, KernelSymbol } from './types.js'

/** Release of the profile that ships in the package (Debian 12's 6.1 amd64 kernel). */
export const EMBEDDED_RELEASE = '6.1.0-56-amd64'

/** Format version of the serialized profile; bump when the layout changes. */
const FORMAT = 1

/** Compact on-disk shape: module names once, symbols as tuples. */
interface StoredProfile {
  format: number
  release: string
  vermagic: string
  version?: string
  config: KernelConfigFacts
  modules: string[]
  /** [name, crc, module index, gpl (0/1), namespace?] */
  symbols: Array<[string, number, number, 0 | 1] | [string, number, number, 0 | 1, string]>
}

/** Serialize a profile as gzip'd JSON (what scripts/make-profile.mjs writes into profiles/). */
export function serializeProfile(p: KernelProfile): Uint8Array {
  const modules: string[] = []
  const modIndex = new Map<string, number>()
  const symbols: StoredProfile['symbols'] = []
  for (const s of p.symbols.values()) {
    let mi = modIndex.get(s.module)
    if (mi === undefined) modIndex.set(s.module, (mi = modules.push(s.module) - 1))
    symbols.push(s.namespace ? [s.name, s.crc, mi, s.gpl ? 1 : 0, s.namespace] : [s.name, s.crc, mi, s.gpl ? 1 : 0])
  }
  const stored: StoredProfile = { format: FORMAT, release: p.release, vermagic: p.vermagic, config: p.config, modules, symbols }
  if (p.version !== undefined) stored.version = p.version
  return gzipSync(JSON.stringify(stored), { level: 9 })
}

/**
 * The kernel's exports as a Map made on first use: ~25,000 entries, which a run that loads no module
 * (depmod, modinfo, a script of file commands) never reads.
 */
class StoredSymbols extends Map<string, KernelSymbol> {
  private stored: { symbols: StoredProfile['symbols']; modules: string[] } | undefined

  constructor(symbols: StoredProfile['symbols'], modules: string[]) {
    super()
    this.stored = { symbols, modules }
  }

  private fill(): void {
    const stored = this.stored
    if (!stored) return
    this.stored = undefined
    for (const [name, crc, mi, gpl, namespace] of stored.symbols) {
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

/** Inverse of {@link serializeProfile}. @throws ProfileError for data that is not a stored profile. */
export function deserializeProfile(bytes: Uint8Array, source = 'profile'): KernelProfile {
  let stored: StoredProfile
  try {
    stored = JSON.parse(gunzipSync(bytes).toString('utf8')) as StoredProfile
  } catch (e) {
    throw new ProfileError(`${source} is not a gzip'd JSON kernel profile (${(e as Error).message}); regenerate it with node scripts/make-profile.mjs`)
  }
  if (stored?.format !== FORMAT || !Array.isArray(stored.symbols) || !Array.isArray(stored.modules)) {
    throw new ProfileError(`${source} has format ${String(stored?.format)}, expected ${FORMAT}; regenerate it with node scripts/make-profile.mjs`)
  }
  for (const [name, , mi] of stored.symbols) {
    if (stored.modules[mi] === undefined) {
      throw new ProfileError(
        `${source}: symbol ${name} names module #${mi}, past the ${stored.modules.length} stored module names; regenerate it with node scripts/make-profile.mjs`,
      )
    }
  }
  const symbols = new StoredSymbols(stored.symbols, stored.modules)
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
