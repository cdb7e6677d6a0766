import { access, readFile, realpath, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'
import { execa } from 'execa'
import { scriptLanguage } from '../../contract/script.js'
import { BackendError } from '../types.js'
import { buildAgent } from './agent.js'
import { cacheDir, sha256, writeCacheFile } from './cache.js'
import { type CpioEntry, writeCpio } from './cpio.js'

/** kmod's tools: argv[0] picks the tool (and its message prefix), so each is a symlink to kmod. */
const kmodTools: readonly string[] = scriptLanguage.filter((c) => c.provider === 'kmod').map((c) => c.name)
/** The script language's file commands, run as busybox applets, and sh (the ssh variant's /init). */
const busyboxApplets: readonly string[] = ['sh', ...scriptLanguage.filter((c) => c.provider === 'busybox').map((c) => c.name)]
/** What a login over ssh needs besides the script language (the ssh backend asks `uname -r`). */
const sshApplets = ['uname'] as const

const hostFiles = {
  busybox: '/bin/busybox',
  kmod: '/usr/bin/kmod',
  dmesg: '/usr/bin/dmesg',
  loader: '/lib64/ld-linux-x86-64.so.2',
}

/** What the ssh test VM adds (Debian packages dropbear-bin, coreutils, bash). */
const sshFiles = {
  dropbear: '/usr/sbin/dropbear',
  dropbearkey: '/usr/bin/dropbearkey',
  dd: '/usr/bin/dd',
  bash: '/bin/bash',
}

/** The ssh variant's /init: brings up eth0 (e1000 is a module) and dropbear, waits until both are up, then becomes the agent. */
const sshInit = (e1000: string): string => `#!/bin/sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/sbin/insmod ${e1000}
/bin/busybox ip link set lo up
/bin/busybox ip link set eth0 up
/bin/busybox ip addr add 10.0.2.15/24 dev eth0
/usr/sbin/dropbear -s -p 22 -r /etc/dropbear/dropbear_ed25519_host_key -P /run/dropbear.pid
# Wait for the link (its kernel messages must come before the log is cleared) and for dropbear to listen.
i=0
while [ $i -lt 200 ]; do
  if [ "$(/bin/busybox cat /sys/class/net/eth0/operstate)" = up ] && /bin/busybox grep -q ':0016 ' /proc/net/tcp /proc/net/tcp6; then break; fi
  /bin/busybox usleep 50000
  i=$((i + 1))
done
# Blocking on /dev/random makes the kernel seed its CRNG now: "random: crng init done" must not land in a test's step.
/bin/busybox dd if=/dev/random of=/dev/null bs=1 count=1 2>/dev/null
/bin/busybox usleep 200000
exec /bin/kmodspec-agent
`

/** The dropbear host key: made once with dropbearkey and kept in the cache, so the initramfs (and the saved state) stay the same. */
async function dropbearHostKey(): Promise<string> {
  const file = path.join(cacheDir(), 'dropbear-ed25519-host-key')
  try {
    await access(file)
    return file
  } catch {
    // not made yet: make it below
  }
  // Unique per call: two backends may start at once (dropbearkey refuses to overwrite a file).
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  const r = await execa(sshFiles.dropbearkey, ['-t', 'ed25519', '-f', tmp], { reject: false, all: true })
  if (r.exitCode !== 0) {
    await rm(tmp, { force: true })
    throw new BackendError(`dropbearkey failed to make the ssh test VM's host key: ${r.all}`, 'setup')
  }
  await rename(tmp, file)
  return file
}

async function need(file: string, pkg: string): Promise<void> {
  try {
    await access(file)
  } catch {
    throw new BackendError(`${file} is missing: install ${pkg} (npm run vm:setup does it on Debian)`, 'setup')
  }
}

/** The shared libraries a dynamic executable links, as the dynamic loader itself lists them. */
async function sharedLibraries(exe: string): Promise<string[]> {
  const { stdout } = await execa(hostFiles.loader, ['--list', exe])
  const libs: string[] = []
  for (const line of stdout.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line)
    if (m) libs.push(m[1]!) // the group always takes part
  }
  return libs
}

export interface Initramfs {
  /** Path of the cached archive. */
  file: string
  /** Hash of its bytes (part of the saved VM state's key). */
  hash: string
}

/**
 * Builds (or finds in the cache) the VM's initramfs: the agent as /init, busybox, kmod with its
 * libraries and tool symlinks, util-linux dmesg, and an empty /lib/modules/<release> and
 * /etc/modprobe.d like the simulator's default sysroot.
 */
export async function buildInitramfs(release: string, variant: { ssh?: boolean } = {}): Promise<Initramfs> {
  await need(hostFiles.busybox, 'busybox-static')
  await need(hostFiles.kmod, 'kmod')
  await need(hostFiles.dmesg, 'util-linux')
  const agent = await buildAgent()
  const entries: CpioEntry[] = []
  const dirs = new Set<string>()
  const dir = (d: string): void => {
    const parts = d.split('/').filter(Boolean)
    for (let i = 1; i <= parts.length; i++) {
      const p = '/' + parts.slice(0, i).join('/')
      if (!dirs.has(p)) {
        dirs.add(p)
        entries.push({ type: 'dir', path: p, mode: p === '/tmp' ? 0o1777 : 0o755 })
      }
    }
  }
  const file = async (target: string, source: string, mode = 0o755, text?: string): Promise<void> => {
    dir(path.dirname(target))
    entries.push({ type: 'file', path: target, data: text !== undefined ? Buffer.from(text) : await readFile(source), mode })
  }
  const link = (at: string, target: string): void => {
    dir(path.dirname(at))
    entries.push({ type: 'symlink', path: at, target })
  }
  for (const d of ['/proc', '/sys', '/dev', '/tmp', '/root', '/etc/modprobe.d', `/lib/modules/${release}`]) dir(d)
  entries.push({ type: 'char', path: '/dev/console', major: 5, minor: 1 })
  if (variant.ssh) {
    // The ssh test VM: the NIC driver from the host's own tree, dropbear, GNU dd (the ssh backend reads /dev/kmsg with it).
    const e1000 = `/lib/modules/${release}/kernel/drivers/net/ethernet/intel/e1000/e1000.ko`
    await need(e1000, `linux-image-${release}`)
    for (const [f, pkg] of [
      [sshFiles.dropbear, 'dropbear-bin'],
      [sshFiles.dropbearkey, 'dropbear-bin'],
      [sshFiles.dd, 'coreutils'],
      [sshFiles.bash, 'bash'],
    ] as const)
      await need(f, pkg)
    await file('/opt/kmodspec/e1000.ko', e1000, 0o644)
    await file('/init', '', 0o755, sshInit('/opt/kmodspec/e1000.ko'))
    await file('/bin/kmodspec-agent', agent)
    await file('/usr/sbin/dropbear', sshFiles.dropbear)
    await file('/usr/bin/dd', sshFiles.dd)
    // root logs in to bash, as on a Debian machine: busybox sh would run its own applets (busybox dd) before PATH.
    await file('/bin/bash', sshFiles.bash)
    await file('/etc/dropbear/dropbear_ed25519_host_key', await dropbearHostKey(), 0o600)
    await file('/etc/passwd', '', 0o644, 'root:x:0:0:root:/root:/bin/bash\n')
    await file('/etc/group', '', 0o644, 'root:x:0:\n')
    await file('/etc/shells', '', 0o644, '/bin/sh\n/bin/bash\n')
    for (const d of ['/root/.ssh', '/run']) dir(d)
    for (const a of sshApplets) link(`/bin/${a}`, 'busybox')
  } else {
    await file('/init', agent)
  }
  await file('/bin/busybox', hostFiles.busybox)
  for (const a of busyboxApplets) link(`/bin/${a}`, 'busybox')
  await file('/bin/kmod', hostFiles.kmod)
  for (const t of kmodTools) link(`/sbin/${t}`, '../bin/kmod')
  await file('/bin/dmesg', hostFiles.dmesg)
  const executables = [hostFiles.kmod, hostFiles.dmesg, ...(variant.ssh ? [sshFiles.dropbear, sshFiles.dd, sshFiles.bash] : [])]
  const libs = new Set((await Promise.all(executables.map(sharedLibraries))).flat())
  for (const lib of [...libs].sort()) await file(lib, await realpath(lib))
  const archive = writeCpio(entries)
  const hash = sha256(archive)
  const out = path.join(cacheDir(), `initramfs-${release}${variant.ssh ? '-ssh' : ''}-${hash.slice(0, 16)}.cpio`)
  try {
    await access(out)
  } catch {
    await writeCacheFile(out, archive)
  }
  return { file: out, hash }
}
