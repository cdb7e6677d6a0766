import { access, readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { EMBEDDED_RELEASE } from '../../profile/embedded.js'
import { BackendError } from '../types.js'
import { cacheDir, sha256, writeCacheFile } from './cache.js'
import { firstRunStep } from './progress.js'

export interface KernelChoice {
  release: string
  /** The bzImage as installed (/boot/vmlinuz-R). */
  image: string
  /** Kernel headers (kbuild tree) for this release, if present. */
  headers?: string
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p)
    return true
  } catch {
    return false
  }
}

/** Compares Debian kernel releases ("6.1.0-56-amd64") numerically, part by part. */
function compareReleases(a: string, b: string): number {
  const pa = a.split(/[.-]/), pb = b.split(/[.-]/)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '', y = pb[i] ?? ''
    const nx = Number(x), ny = Number(y)
    const d = Number.isFinite(nx) && Number.isFinite(ny) ? nx - ny : x.localeCompare(y)
    if (d !== 0) return d
  }
  return 0
}

/**
 * Picks the kernel: the given image/release; else the release the simulator simulates by default
 * (the one the captures were made on) when it is installed, so that a host with more kernels runs
 * the same one; else the newest /boot/vmlinuz-* whose headers (/lib/modules/R/build) are installed.
 */
export async function chooseKernel(options: { kernel?: string; release?: string; headers?: string }): Promise<KernelChoice> {
  const headersOf = async (release: string): Promise<string | undefined> => {
    const h = options.headers ?? `/lib/modules/${release}/build`
    return (await exists(h)) ? h : undefined
  }
  if (options.kernel) {
    if (!(await exists(options.kernel))) throw new BackendError(`kernel image ${options.kernel} does not exist: give an existing bzImage (e.g. /boot/vmlinuz-$(uname -r))`, 'setup')
    const release = options.release ?? path.basename(options.kernel).replace(/^vmlinuz-/, '')
    return { release, image: options.kernel, headers: await headersOf(release) }
  }
  if (options.release) {
    const image = `/boot/vmlinuz-${options.release}`
    if (!(await exists(image))) throw new BackendError(`no kernel image ${image}: install linux-image-${options.release} or pick another release`, 'setup')
    return { release: options.release, image, headers: await headersOf(options.release) }
  }
  if ((await exists(`/boot/vmlinuz-${EMBEDDED_RELEASE}`)) && (await exists(`/lib/modules/${EMBEDDED_RELEASE}/build`))) {
    return { release: EMBEDDED_RELEASE, image: `/boot/vmlinuz-${EMBEDDED_RELEASE}`, headers: `/lib/modules/${EMBEDDED_RELEASE}/build` }
  }
  let names: string[] = []
  try {
    names = (await readdir('/boot')).filter((n) => n.startsWith('vmlinuz-'))
  } catch {}
  const releases = names.map((n) => n.slice('vmlinuz-'.length)).sort(compareReleases).reverse()
  for (const release of releases) {
    if (await exists(`/lib/modules/${release}/build`)) return { release, image: `/boot/vmlinuz-${release}`, headers: `/lib/modules/${release}/build` }
  }
  if (releases.length) return { release: releases[0], image: `/boot/vmlinuz-${releases[0]}` }
  throw new BackendError(`no kernel image in /boot: install linux-image-${EMBEDDED_RELEASE} and linux-headers-${EMBEDDED_RELEASE} (npm run vm:setup does it on Debian)`, 'setup')
}

const compressions: { magic: Buffer; tool: string; args: string[] }[] = [
  { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), tool: 'xz', args: ['-dc'] },
  { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), tool: 'zstd', args: ['-dc'] },
  { magic: Buffer.from([0x1f, 0x8b, 0x08]), tool: 'gzip', args: ['-dc'] },
]

/**
 * The uncompressed ELF vmlinux inside a bzImage, cached. Booting it through its PVH entry skips
 * the in-guest decompression, which under TCG costs about 3 s of every boot (measured: 6.3 s -> 2.9 s).
 * Returns the bzImage itself when no known compressed payload is found.
 */
export async function uncompressedKernel(image: string): Promise<string> {
  const st = await stat(image)
  const out = path.join(cacheDir(), `vmlinux-${sha256(image, String(st.size), String(st.mtimeMs)).slice(0, 16)}`)
  if (await exists(out)) return out
  const found = await firstRunStep(`extracting the kernel from ${image} (once per image)`, async () => {
    const data = await readFile(image)
    for (const c of compressions) {
      const at = data.indexOf(c.magic)
      if (at < 0) continue
      // The payload is followed by other data, so the tool reports trailing garbage: judge by the output.
      const r = await execa(c.tool, c.args, { input: data.subarray(at), encoding: 'buffer', reject: false, maxBuffer: 512 * 1024 * 1024 })
      const elf = Buffer.from(r.stdout as Uint8Array)
      if (elf.length > 1024 * 1024 && elf.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
        await writeCacheFile(out, elf)
        return true
      }
    }
    return false
  })
  if (found) return out
  return image
}
