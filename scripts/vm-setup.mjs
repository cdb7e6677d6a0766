#!/usr/bin/env node
// `npm run vm:setup`: installs what the real-kernel backends need on Debian (as root), or says what to
// install. The one list of those packages. `--if-missing` installs only when dpkg lacks one of them
// (npm test calls it so; then it prints nothing when all is there).
//
// The kernel is pinned to the exact ABI the captures in fixtures/captures were made on, never the
// linux-image-amd64 meta-package: a Debian point release that ships a new ABI must not change what a
// fresh clone boots.
import { access } from 'node:fs/promises'
import process from 'node:process'
import { execa } from 'execa'

export const PINNED_RELEASE = '6.1.0-56-amd64'
const kernelPackages = [`linux-image-${PINNED_RELEASE}`, `linux-headers-${PINNED_RELEASE}`]
const packages = ['qemu-system-x86', ...kernelPackages, 'kmod', 'busybox-static', 'cpio', 'gcc', 'libc6-dev', 'xz-utils', 'zstd', 'dropbear-bin', 'openssh-client']
const what = `the qemu backend needs: ${packages.join(' ')}\n(QEMU for x86_64, the pinned kernel image with its headers, kmod, a static busybox, cpio, gcc with a static libc, xz and zstd; dropbear and the ssh client for the ssh backend's test VM)`

let debian = false
try {
  await access('/etc/debian_version')
  debian = true
} catch {}
const ifMissing = process.argv.includes('--if-missing')
/** Packages dpkg does not report as installed. */
async function missingPackages() {
  const r = await execa('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Status}\\n', ...packages], { reject: false })
  const installed = new Set(r.stdout.split('\n').filter((l) => l.endsWith(' installed')).map((l) => l.split(' ')[0]))
  return packages.filter((p) => !installed.has(p))
}
/** Packages of the list that apt cannot find at all (after an update). */
async function unavailable(names) {
  const r = await execa('apt-cache', ['policy', ...names], { reject: false })
  const gone = []
  for (const name of names) {
    const block = r.stdout.split(/\n(?=\S)/).find((b) => b.startsWith(`${name}:`))
    if (!block || /Candidate: \(none\)/.test(block)) gone.push(name)
  }
  return gone
}
if (!debian) {
  process.stderr.write(`vm:setup: this is not Debian; install the equivalents of these packages yourself:\n${what}\n`)
  process.exit(1)
}
const missing = await missingPackages()
if (ifMissing && missing.length === 0) process.exit(0)
if (process.getuid?.() !== 0) {
  process.stderr.write(`vm:setup: run as root (sudo npm run vm:setup), or install them yourself:\n  apt-get install -y ${packages.join(' ')}\n`)
  process.exit(1)
}
const wanted = ifMissing ? missing : packages
process.stdout.write(`vm:setup: installing ${wanted.join(' ')}\n`)
const started = Date.now()
await execa('apt-get', ['update', '-qq'], { stdio: 'inherit' })
const gone = await unavailable(wanted)
if (gone.length > 0) {
  const pinned = gone.filter((p) => kernelPackages.includes(p))
  process.stderr.write(
    pinned.length > 0
      ? `vm:setup: ${pinned.join(' and ')} ${pinned.length > 1 ? 'are' : 'is'} no longer in the Debian archive reachable here. ` +
          `The captures in fixtures/captures were made on ${PINNED_RELEASE}: install that ABI from snapshot.debian.org by hand, ` +
          `or re-capture on a kernel you have (npm run build && node scripts/capture.mjs) and change PINNED_RELEASE in scripts/vm-setup.mjs.\n`
      : `vm:setup: apt knows no package ${gone.join(', ')}: check /etc/apt/sources.list (Debian 12 main is needed).\n`,
  )
  process.exit(1)
}
await execa('apt-get', ['install', '-y', '-qq', ...wanted], { stdio: 'inherit', env: { DEBIAN_FRONTEND: 'noninteractive' } })
process.stdout.write(`vm:setup: done in ${((Date.now() - started) / 1000).toFixed(0)} s. Try: npx vitest run src/backends/qemu\n`)
