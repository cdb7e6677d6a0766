#!/usr/bin/env node
// `npm run vm:setup`: installs what the qemu backend needs on Debian (as root), or says what to install.
import { access } from 'node:fs/promises'
import process from 'node:process'
import { execa } from 'execa'

const packages = ['qemu-system-x86', 'linux-image-amd64', 'linux-headers-amd64', 'kmod', 'busybox-static', 'cpio', 'gcc', 'libc6-dev', 'xz-utils']
const what = `the qemu backend needs: ${packages.join(' ')}\n(QEMU for x86_64, a kernel image with its headers, kmod, a static busybox, cpio, gcc with a static libc, xz)`

let debian = false
try {
  await access('/etc/debian_version')
  debian = true
} catch {}
if (!debian) {
  process.stderr.write(`vm:setup: this is not Debian; install the equivalents of these packages yourself:\n${what}\n`)
  process.exit(1)
}
if (process.getuid?.() !== 0) {
  process.stderr.write(`vm:setup: run as root (sudo npm run vm:setup), or install them yourself:\n  apt-get install -y ${packages.join(' ')}\n`)
  process.exit(1)
}
await execa('apt-get', ['update'], { stdio: 'inherit' })
await execa('apt-get', ['install', '-y', ...packages], { stdio: 'inherit', env: { DEBIAN_FRONTEND: 'noninteractive' } })
process.stdout.write('vm:setup: done. Try: npx vitest run src/backends/qemu\n')
