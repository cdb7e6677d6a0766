import { access, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'
import { execa } from 'execa'
import { EMBEDDED_RELEASE } from '../../profile/embedded.js'
import { BackendError } from '../types.js'
import { cacheDir, sha256 } from './cache.js'
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
  const pa = a.split(/[.-]/),
    pb = b.split(/[.-]/)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '',
      y = pb[i] ?? ''
    const nx = Number(x),
      ny = Number(y)
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
    if (!(await exists(options.kernel)))
      throw new BackendError(`kernel image ${options.kernel} does not exist: give an existing bzImage (e.g. /boot/vmlinuz-$(uname -r))`, 'setup')
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
  const releases = names
    .map((n) => n.slice('vmlinuz-'.length))
    .sort(compareReleases)
    .reverse()
  for (const release of releases) {
    if (await exists(`/lib/modules/${release}/build`)) return { release, image: `/boot/vmlinuz-${release}`, headers: `/lib/modules/${release}/build` }
  }
  const [newest] = releases
  if (newest !== undefined) return { release: newest, image: `/boot/vmlinuz-${newest}` }
  throw new BackendError(
    `no kernel image in /boot: install linux-image-${EMBEDDED_RELEASE} and linux-headers-${EMBEDDED_RELEASE} (npm run vm:setup does it on Debian)`,
    'setup',
  )
}

/** Whether `file` is an ELF image of a kernel's size (a failed or partial decompression is not). */
async function isElf(file: string): Promise<boolean> {
  const fh = await open(file, 'r')
  try {
    const { size } = await fh.stat()
    const magic = Buffer.alloc(4)
    await fh.read(magic, 0, 4, 0)
    return size > 1024 * 1024 && magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))
  } finally {
    await fh.close()
  }
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
    const tmp = `${out}.${process.pid}.tmp`
    try {
      for (const c of compressions) {
        const at = data.indexOf(c.magic)
        if (at < 0) continue
        // The tool reads the image and writes the file through descriptors it inherits: piping the
        // 65 MB through this process (execa's input/stdout streams) took ~40 s instead of ~1 s.
        // The payload is followed by other data, so the tool reports trailing garbage: judge by the output.
        const input = await open(image, 'r')
        const output = await open(tmp, 'w')
        try {
          // A read with no position moves the descriptor's offset to the payload, where the tool starts.
          if (at > 0) await input.read(Buffer.alloc(at), 0, at, null)
          // execa passes a number through as the child's descriptor; its types name only 0-9.
          await execa(c.tool, c.args, { stdin: input.fd as 0, stdout: output.fd as 1, stderr: 'ignore', reject: false })
        } finally {
          await input.close()
          await output.close()
        }
        if (await isElf(tmp)) {
          await rename(tmp, out)
          return true
        }
      }
      return false
    } finally {
      await rm(tmp, { force: true })
    }
  })
  if (found) return out
  return image
}
