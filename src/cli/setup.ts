// `kmodspec setup`: install what the real-kernel backends need for some kernel releases, on Debian or Ubuntu.
// Imports only node:, execa and ./releases.js: scripts/vm-setup.mjs transpiles it before dist/ exists.
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import process from 'node:process'
import { parseArgs } from 'node:util'
import { execa } from 'execa'
import { installedReleases, parseReleaseList, PINNED_RELEASE, RELEASE_PATTERN } from './releases.js'

/** What every release needs besides its kernel, with why (for the message on other systems). */
export const BASE_PACKAGES: ReadonlyArray<[name: string, why: string]> = [
  ['qemu-system-x86', 'QEMU for x86_64'],
  ['kmod', 'insmod, modprobe, depmod, modinfo (kmod 30)'],
  ['busybox-static', 'a static busybox for the VM'],
  ['cpio', 'to pack the initramfs'],
  ['gcc', 'kbuild (the C compiler)'],
  ['make', 'kbuild (make -C <headers> M=<dir>)'],
  ['libc6-dev', 'a static libc for the VM agent'],
  ['xz-utils', 'xz-compressed modules'],
  ['zstd', 'zstd-compressed modules'],
  ['dropbear-bin', 'the ssh backend test VM'],
  ['openssh-client', 'the ssh backend'],
]

/** The Debian packages of one kernel release: its image and its kbuild headers. */
export function kernelPackages(release: string): string[] {
  return [`linux-image-${release}`, `linux-headers-${release}`]
}

/** Everything `kmodspec setup` installs for these releases. */
export function setupPackages(releases: readonly string[]): string[] {
  return [...BASE_PACKAGES.map(([name]) => name), ...releases.flatMap(kernelPackages)]
}

const help = `usage: kmodspec setup [--release R[,R2...]]... [--if-missing] [--print]

Installs what the qemu backend needs for each kernel release on Debian or Ubuntu, with apt-get,
as root or through sudo: the kernel image and headers of each release, QEMU, kmod,
busybox-static, cpio, gcc, make, libc6-dev, xz-utils, zstd, dropbear-bin and openssh-client. Prints
what it installs and how long each step took. Elsewhere it lists the packages and exits 1.

options:
  --release R    a kernel release, e.g. 6.12.117+deb12-amd64 (repeatable, or comma-separated;
                 default: ${PINNED_RELEASE}, the kernel kmodspec's captures were made on)
  --if-missing   print nothing and do nothing when every package is installed already
  --print        only print the apt-get line that would install what is missing
  -h, --help     this text
`

export interface SetupIo {
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
  /** The machine's os-release file (default /etc/os-release). */
  osRelease?: string
  /** The user id setup runs as (default process.getuid()). */
  uid?: number
  /** Directories searched for sudo (default $PATH). */
  path?: string
  /** stdio of apt-get (default inherit: its progress goes to the terminal). */
  aptOutput?: 'inherit' | 'ignore'
}

/** ID and ID_LIKE of os-release, and its NAME for messages. */
function readOsRelease(file: string): { ids: string[]; name: string } {
  let text = ''
  try {
    text = readFileSync(file, 'utf8')
  } catch {}
  const field = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(text)?.[1]?.replace(/^["']|["']$/g, '')
  return {
    ids: [field('ID'), ...(field('ID_LIKE') ?? '').split(' ')].filter((x): x is string => !!x),
    name: field('PRETTY_NAME') ?? field('NAME') ?? 'an unknown system',
  }
}

/** Packages dpkg does not report as installed. */
async function missingPackages(packages: readonly string[]): Promise<string[]> {
  const r = await execa('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Status}\\n', ...packages], { reject: false })
  const installed = new Set(
    r.stdout
      .split('\n')
      .filter((l) => l.endsWith(' installed'))
      .map((l) => l.split(' ')[0]),
  )
  return packages.filter((p) => !installed.has(p))
}

/** Packages apt has no candidate for (after an update). */
async function unavailable(packages: readonly string[]): Promise<string[]> {
  const r = await execa('apt-cache', ['policy', ...packages], { reject: false })
  const blocks = r.stdout.split(/\n(?=\S)/)
  return packages.filter((name) => {
    const block = blocks.find((b) => b.startsWith(`${name}:`))
    return !block || /Candidate: \(none\)/.test(block)
  })
}

/** Kernel releases apt could install (linux-image-R packages with a matching headers package). */
async function offeredReleases(): Promise<string[]> {
  const r = await execa('apt-cache', ['pkgnames', 'linux-headers-'], { reject: false })
  return r.stdout
    .split('\n')
    .filter((n) => /^linux-headers-\d.*-(amd64|rt-amd64|cloud-amd64)$/.test(n))
    .map((n) => n.slice('linux-headers-'.length))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

/**
 * `kmodspec setup` with its streams and machine facts given (tests inject os-release, uid and PATH).
 * @example await setup(['--release', '6.12.117+deb12-amd64'], { stdout: process.stdout, stderr: process.stderr })
 */
export async function setup(argv: string[], io: SetupIo): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        release: { type: 'string', multiple: true },
        'if-missing': { type: 'boolean' },
        print: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (error) {
    io.stderr.write(`kmodspec setup: ${(error as Error).message}\n${help}`)
    return 2
  }
  const { values } = parsed
  if (values.help) {
    io.stdout.write(help)
    return 0
  }
  const releases = parseReleaseList(values.release ?? [])
  if (releases.length === 0) releases.push(PINNED_RELEASE)
  const bad = releases.find((r) => !RELEASE_PATTERN.test(r))
  if (bad !== undefined) {
    io.stderr.write(`kmodspec setup: '${bad}' is not a kernel release: give one like ${PINNED_RELEASE} (apt-cache search linux-headers lists them)\n`)
    return 2
  }
  const packages = setupPackages(releases)
  const os = readOsRelease(io.osRelease ?? '/etc/os-release')
  if (!os.ids.some((id) => id === 'debian' || id === 'ubuntu')) {
    const rows: Array<[string, string]> = [
      ...BASE_PACKAGES,
      ...releases.flatMap((r): Array<[string, string]> => [
        [`linux-image-${r}`, `the kernel image of ${r} (/boot/vmlinuz-${r})`],
        [`linux-headers-${r}`, `its headers (/lib/modules/${r}/build)`],
      ]),
    ]
    const width = Math.max(...rows.map(([n]) => n.length)) + 2
    const list = rows.map(([n, why]) => `  ${n.padEnd(width)}${why}`)
    io.stderr.write(
      `kmodspec setup: this is ${os.name}, not Debian or Ubuntu: install your distribution's equivalents of these Debian packages yourself:\n${list.join('\n')}\n`,
    )
    return 1
  }
  const missing = await missingPackages(packages)
  if (missing.length === 0) {
    if (!values['if-missing']) io.stdout.write(`kmodspec setup: everything ${releases.join(', ')} needs is installed\n`)
    return 0
  }
  const uid = io.uid ?? process.getuid?.() ?? 0
  const sudo =
    uid === 0
      ? undefined
      : (io.path ?? process.env.PATH ?? '')
          .split(path.delimiter)
          .map((d) => path.join(d, 'sudo'))
          .find((f) => existsSync(f))
  if (values.print || (uid !== 0 && !sudo)) {
    const line = `apt-get install -y ${missing.join(' ')}`
    if (values.print) {
      io.stdout.write(`${line}\n`)
      return 0
    }
    io.stderr.write(`kmodspec setup: installing packages needs root and there is no sudo here: as root, run\n  ${line}\n`)
    return 1
  }
  const as = sudo ? [sudo] : []
  const stdio = io.aptOutput ?? 'inherit'
  io.stdout.write(`kmodspec setup: installing for ${releases.join(', ')}${sudo ? ' (through sudo)' : ''}: ${missing.join(' ')}\n`)
  const started = Date.now()
  const step = async (label: string, file: string, args: string[], env: Record<string, string> = {}) => {
    const t = Date.now()
    const [cmd, ...rest] = [...as, file, ...args]
    const r = await execa(cmd!, rest, { stdio, reject: false, env })
    io.stdout.write(`kmodspec setup: ${label}: ${r.exitCode === 0 ? seconds(Date.now() - t) : `failed (exit ${r.exitCode})`}\n`)
    return r.exitCode === 0
  }
  if (!(await step('apt-get update', 'apt-get', ['update', '-qq']))) {
    io.stderr.write('kmodspec setup: apt-get update failed (see above): check the network and /etc/apt/sources.list\n')
    return 1
  }
  const gone = await unavailable(missing)
  if (gone.length > 0) {
    io.stderr.write(`${unavailableMessage(gone, releases, await offeredReleases())}\n`)
    return 1
  }
  if (!(await step(`apt-get install (${missing.length} packages)`, 'apt-get', ['install', '-y', '-qq', ...missing], { DEBIAN_FRONTEND: 'noninteractive' }))) {
    io.stderr.write(`kmodspec setup: apt-get install failed (see above); the line was: apt-get install -y ${missing.join(' ')}\n`)
    return 1
  }
  io.stdout.write(
    `kmodspec setup: done in ${seconds(Date.now() - started)}; releases installed: ${installedReleases()
      .filter((r) => r.image && r.headers)
      .map((r) => r.release)
      .join(', ')}\n`,
  )
  return 0
}

/** Why apt cannot install some packages, naming the releases it could. */
function unavailableMessage(gone: string[], releases: readonly string[], offered: string[]): string {
  const kernels = releases.filter((r) => kernelPackages(r).some((p) => gone.includes(p)))
  if (kernels.length === 0) return `kmodspec setup: apt knows no package ${gone.join(', ')}: check /etc/apt/sources.list (Debian 12 or Ubuntu main is needed)`
  const installed =
    installedReleases()
      .map((r) => r.release)
      .join(', ') || 'none'
  const pinned = kernels.includes(PINNED_RELEASE)
    ? ` The captures in fixtures/captures were made on ${PINNED_RELEASE}: install that ABI from snapshot.debian.org by hand, or re-capture on a kernel you have (npm run build && node scripts/capture.mjs) and change PINNED_RELEASE in src/cli/releases.ts.`
    : ''
  return `kmodspec setup: apt has no kernel ${kernels.join(', ')} (no ${gone.filter((p) => p.startsWith('linux-')).join(', ')}). Installed releases: ${installed}. Releases apt offers: ${offered.join(', ') || 'none'}: pick one with --release R.${pinned}`
}

export async function main(argv: string[]): Promise<number> {
  return setup(argv, { stdout: process.stdout, stderr: process.stderr })
}
