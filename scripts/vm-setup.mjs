#!/usr/bin/env node
// `npm run vm:setup`: installs what the real-kernel backends need on Debian (as root), or says what to
// install. The one list of those packages. `--if-missing` installs only when dpkg lacks one of them
// (npm test calls it so; then it prints nothing when all is there).
import { access } from 'node:fs/promises'
import process from 'node:process'
import { execa } from 'execa'

const packages = ['qemu-system-x86', 'linux-image-amd64', 'linux-headers-amd64', 'kmod', 'busybox-static', 'cpio', 'gcc', 'libc6-dev', 'xz-utils', 'dropbear-bin', 'openssh-client']
const what = `the qemu backend needs: ${packages.join(' ')}\n(QEMU for x86_64, a kernel image with its headers, kmod, a static busybox, cpio, gcc with a static libc, xz; dropbear and the ssh client for the ssh backend's test VM)`

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
process.stdout.write(`vm:setup: installing ${(ifMissing ? missing : packages).join(' ')}\n`)
await execa('apt-get', ['update', '-qq'], { stdio: 'inherit' })
await execa('apt-get', ['install', '-y', '-qq', ...(ifMissing ? missing : packages)], { stdio: 'inherit', env: { DEBIAN_FRONTEND: 'noninteractive' } })
process.stdout.write('vm:setup: done. Try: npx vitest run src/backends/qemu\n')
