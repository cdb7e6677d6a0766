// Which kernel releases are installed here (image in /boot, headers in /lib/modules/R/build), and what a
// missing one needs. Imports only node: scripts/vm-setup.mjs transpiles this file before dist/ exists.
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'

/** The kernel the captures in fixtures/captures were made on; `kmodspec setup` installs it by default. */
export const PINNED_RELEASE = '6.1.0-56-amd64'

/** Where a machine keeps its kernels; tests point these at a directory of their own. */
export interface KernelRoots {
  /** Holds vmlinuz-R. Default /boot. */
  boot?: string
  /** Holds R/build. Default /lib/modules. */
  modules?: string
}

export interface InstalledRelease {
  release: string
  /** /boot/vmlinuz-R exists. */
  image: boolean
  /** /lib/modules/R/build exists (kbuild headers). */
  headers: boolean
}

/**
 * Releases with a kernel image or headers installed, sorted.
 * @example installedReleases() // [{ release: '6.1.0-56-amd64', image: true, headers: true }]
 */
export function installedReleases(roots: KernelRoots = {}): InstalledRelease[] {
  const { boot = '/boot', modules = '/lib/modules' } = roots
  const list = (dir: string) => {
    try {
      return readdirSync(dir)
    } catch {
      return []
    }
  }
  const names = new Set([
    ...list(boot)
      .filter((n) => n.startsWith('vmlinuz-'))
      .map((n) => n.slice('vmlinuz-'.length)),
    ...list(modules),
  ])
  return [...names]
    .map((release) => ({ release, image: existsSync(path.join(boot, `vmlinuz-${release}`)), headers: existsSync(path.join(modules, release, 'build')) }))
    .filter((r) => r.image || r.headers)
    .sort((a, b) => a.release.localeCompare(b.release, 'en', { numeric: true }))
}

/** A release string as Debian names kernels; anything else is refused before it reaches apt or a path. */
export const RELEASE_PATTERN = /^[0-9][A-Za-z0-9.+_~-]*$/

/**
 * Why `release` cannot be used here, as one line that names the fix; undefined when it can.
 * @example releaseProblem('6.12.117+deb12-amd64', { image: true, headers: true })
 * // "kernel release 6.12.117+deb12-amd64 is not installed (installed: 6.1.0-56-amd64): add it with 'kmodspec setup --release 6.12.117+deb12-amd64'"
 */
export function releaseProblem(release: string, needs: { image: boolean; headers: boolean }, roots: KernelRoots = {}): string | undefined {
  if (!RELEASE_PATTERN.test(release)) return `'${release}' is not a kernel release (like ${PINNED_RELEASE}): see 'ls /lib/modules'`
  const installed = installedReleases(roots)
  const found = installed.find((r) => r.release === release)
  const setup = `kmodspec setup --release ${release}`
  if (!found) {
    const names = installed.map((r) => r.release).join(', ') || 'none'
    return `kernel release ${release} is not installed (installed: ${names}): add it with '${setup}'`
  }
  if (needs.image && !found.image)
    return `kernel release ${release} has headers but no kernel image (/boot/vmlinuz-${release}): install linux-image-${release} ('${setup}')`
  if (needs.headers && !found.headers)
    return `kernel release ${release} has a kernel image but no headers (/lib/modules/${release}/build): install linux-headers-${release} ('${setup}')`
  return undefined
}

/** `--release A,B --release C` (or KMODSPEC_RELEASE=A,B) as a list without repeats. */
export function parseReleaseList(values: readonly string[]): string[] {
  return [
    ...new Set(
      values
        .flatMap((v) => v.split(','))
        .map((r) => r.trim())
        .filter((r) => r !== ''),
    ),
  ]
}
