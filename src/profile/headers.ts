import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { KernelConfigFacts, KernelProfile, KernelSymbol } from './types.js'

/** A kernel profile could not be built: missing or unreadable headers. */
export class ProfileError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ProfileError'
  }
}

/** `.config` as a map of option name (without `CONFIG_`) to its value (`y`, `m`, a number or the unquoted string). */
export type KernelConfig = Map<string, string>

/** Parse a kernel `.config`; `# CONFIG_X is not set` lines and comments are left out. */
export function parseKernelConfig(text: string): KernelConfig {
  const out: KernelConfig = new Map()
  for (const line of text.split('\n')) {
    const m = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/.exec(line)
    if (!m) continue
    // Both groups always take part in a match.
    let v = m[2]!
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1')
    out.set(m[1]!, v)
  }
  return out
}

const on = (c: KernelConfig, name: string): boolean => c.get(name) === 'y'

/** The config facts that change loader behaviour (x86-64: 4 KiB pages). */
export function configFacts(c: KernelConfig): KernelConfigFacts {
  return {
    moduleSig: on(c, 'MODULE_SIG'),
    moduleSigForce: on(c, 'MODULE_SIG_FORCE'),
    moduleForceUnload: on(c, 'MODULE_FORCE_UNLOAD'),
    modversions: on(c, 'MODVERSIONS'),
    moduleUnload: on(c, 'MODULE_UNLOAD'),
    pageSize: 4096,
    strictModuleRwx: on(c, 'STRICT_MODULE_RWX'),
    kallsyms: on(c, 'KALLSYMS'),
    preemptRt: on(c, 'PREEMPT_RT'),
  }
}

/** x86-32 processor families of arch/x86/include/asm/vermagic.h (x86-64 adds none). */
const X86_32_FAMILY: Array<[string, string]> = [
  ['M486SX', '486SX '],
  ['M486', '486 '],
  ['M586', '586 '],
  ['M586TSC', '586TSC '],
  ['M586MMX', '586MMX '],
  ['MCORE2', 'CORE2 '],
  ['MATOM', 'ATOM '],
  ['M686', '686 '],
  ['MPENTIUMII', 'PENTIUMII '],
  ['MPENTIUMIII', 'PENTIUMIII '],
  ['MPENTIUMM', 'PENTIUMM '],
  ['MPENTIUM4', 'PENTIUM4 '],
  ['MK6', 'K6 '],
  ['MK7', 'K7 '],
  ['MK8', 'K8 '],
  ['MELAN', 'ELAN '],
  ['MCRUSOE', 'CRUSOE '],
  ['MEFFICEON', 'EFFICEON '],
  ['MWINCHIPC6', 'WINCHIPC6 '],
  ['MWINCHIP3D', 'WINCHIP3D '],
  ['MCYRIXIII', 'CYRIXIII '],
  ['MVIAC3_2', 'VIAC3-2 '],
  ['MVIAC7', 'VIAC7 '],
  ['MGEODEGX1', 'GEODEGX1 '],
  ['MGEODE_LX', 'GEODE '],
]

/**
 * VERMAGIC_STRING as include/linux/vermagic.h composes it: release, SMP, preempt,
 * mod_unload, modversions, the x86-32 family, and the randstruct seed.
 * @example composeVermagic('6.1.0-56-amd64', config) // '6.1.0-56-amd64 SMP preempt mod_unload modversions '
 */
export function composeVermagic(release: string, c: KernelConfig, randstructSeed?: string): string {
  let s = `${release} `
  if (on(c, 'SMP')) s += 'SMP '
  if (on(c, 'PREEMPT_BUILD')) s += 'preempt '
  else if (on(c, 'PREEMPT_RT')) s += 'preempt_rt '
  if (on(c, 'MODULE_UNLOAD')) s += 'mod_unload '
  if (on(c, 'MODVERSIONS')) s += 'modversions '
  if (on(c, 'X86_32')) s += X86_32_FAMILY.find(([k]) => on(c, k))?.[1] ?? ''
  if (randstructSeed !== undefined) s += `RANDSTRUCT_${randstructSeed}`
  return s
}

const EXPORT_KINDS: Record<string, boolean> = { EXPORT_SYMBOL: false, EXPORT_SYMBOL_GPL: true }

/**
 * Parse `Module.symvers`: `crc<TAB>symbol<TAB>module<TAB>export type[<TAB>namespace]` per line.
 * @throws ProfileError naming the file and line of a line that does not fit.
 */
export function parseModuleSymvers(text: string, file = 'Module.symvers'): Map<string, KernelSymbol> {
  const out = new Map<string, KernelSymbol>()
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue
    const f = line.split('\t')
    const where = `${file}:${i + 1}`
    if (f.length < 4 || f.length > 5) {
      throw new ProfileError(`${where}: expected 4 or 5 tab-separated fields (crc, symbol, module, export type, namespace), found ${f.length}`)
    }
    const [crcText = '', name = '', module = '', kind = '', namespace] = f
    if (!/^0x[0-9a-fA-F]{1,8}$/.test(crcText)) throw new ProfileError(`${where}: CRC ${JSON.stringify(crcText)} is not a 32-bit hex number like 0x4c9d28b0`)
    if (name === '' || module === '') throw new ProfileError(`${where}: empty symbol or module name`)
    const gpl = EXPORT_KINDS[kind]
    if (gpl === undefined) throw new ProfileError(`${where}: unknown export type ${JSON.stringify(kind)} (expected EXPORT_SYMBOL or EXPORT_SYMBOL_GPL)`)
    const sym: KernelSymbol = { name, crc: parseInt(crcText, 16), gpl, module }
    if (namespace) sym.namespace = namespace
    out.set(name, sym)
  }
  return out
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (e) {
    throw new ProfileError(
      `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; is this a complete kernel headers or build tree?`,
    )
  }
}

/** UTS_RELEASE (what `uname -r` says), from include/generated/utsrelease.h; include/config/kernel.release as a fallback. */
async function readRelease(buildDir: string): Promise<string> {
  // Debian's include/config/kernel.release holds the upstream version (6.1.x), not the package release.
  const uts = join(buildDir, 'include/generated/utsrelease.h')
  if (existsSync(uts)) {
    const m = /#define\s+UTS_RELEASE\s+"([^"]*)"/.exec(await readText(uts, 'release header'))
    if (m) return m[1]!
  }
  return (await readText(join(buildDir, 'include/config/kernel.release'), 'release file')).trim()
}

/**
 * Build a kernel profile from a headers (or build) tree: release, vermagic, config facts,
 * and the exports of vmlinux and in-tree modules from `Module.symvers`.
 * @throws ProfileError when a file is missing or Module.symvers has a bad line.
 * @example const p = await profileFromHeaders('/lib/modules/6.1.0-56-amd64/build')
 */
export async function profileFromHeaders(buildDir: string): Promise<KernelProfile> {
  const symversFile = join(buildDir, 'Module.symvers')
  const [symversText, configText, release] = await Promise.all([
    readText(symversFile, 'Module.symvers'),
    readText(join(buildDir, '.config'), 'kernel config'),
    readRelease(buildDir),
  ])
  const config = parseKernelConfig(configText)
  let seed: string | undefined
  if (on(config, 'RANDSTRUCT') || on(config, 'GCC_PLUGIN_RANDSTRUCT')) {
    const m = /RANDSTRUCT_HASHED_SEED\s+"([^"]*)"/.exec(await readText(join(buildDir, 'include/generated/randstruct_hash.h'), 'randstruct seed'))
    seed = m?.[1]
  }
  return {
    release,
    vermagic: composeVermagic(release, config, seed),
    symbols: parseModuleSymvers(symversText, symversFile),
    config: configFacts(config),
  }
}

/**
 * The profile of an installed kernel, from `<modulesRoot>/<release>/build`.
 * @throws ProfileError naming the package to install when the headers are missing.
 */
export async function profileForRelease(release: string, modulesRoot = '/lib/modules'): Promise<KernelProfile> {
  if (!/^[A-Za-z0-9._+~-]+$/.test(release)) throw new ProfileError(`invalid kernel release ${JSON.stringify(release)} (expected something like 6.1.0-56-amd64)`)
  const build = join(modulesRoot, release, 'build')
  if (!existsSync(join(build, 'Module.symvers'))) {
    throw new ProfileError(
      `no kernel headers for release ${release}: ${build}/Module.symvers does not exist; install them with: apt-get install linux-headers-${release}`,
    )
  }
  return profileFromHeaders(build)
}
