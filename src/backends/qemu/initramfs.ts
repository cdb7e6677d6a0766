import { access, readFile, realpath } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { BackendError } from '../types.js'
import { buildAgent } from './agent.js'
import { cacheDir, sha256, writeCacheFile } from './cache.js'
import { type CpioEntry, writeCpio } from './cpio.js'

/** kmod's tools: argv[0] picks the tool (and its message prefix), so each is a symlink to kmod. */
export const kmodTools = ['insmod', 'rmmod', 'lsmod', 'modinfo', 'modprobe', 'depmod'] as const
/** The script language's file commands, run as busybox applets. */
export const busyboxApplets = ['sh', 'cat', 'ls', 'mkdir', 'cp', 'rm', 'echo'] as const

const hostFiles = {
  busybox: '/bin/busybox',
  kmod: '/usr/bin/kmod',
  dmesg: '/usr/bin/dmesg',
  loader: '/lib64/ld-linux-x86-64.so.2',
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
    if (m) libs.push(m[1])
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
export async function buildInitramfs(release: string): Promise<Initramfs> {
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
  const file = async (target: string, source: string, mode = 0o755): Promise<void> => {
    dir(path.dirname(target))
    entries.push({ type: 'file', path: target, data: await readFile(source), mode })
  }
  const link = (at: string, target: string): void => {
    dir(path.dirname(at))
    entries.push({ type: 'symlink', path: at, target })
  }
  for (const d of ['/proc', '/sys', '/dev', '/tmp', '/root', '/etc/modprobe.d', `/lib/modules/${release}`]) dir(d)
  entries.push({ type: 'char', path: '/dev/console', major: 5, minor: 1 })
  await file('/init', agent)
  await file('/bin/busybox', hostFiles.busybox)
  for (const a of busyboxApplets) link(`/bin/${a}`, 'busybox')
  await file('/bin/kmod', hostFiles.kmod)
  for (const t of kmodTools) link(`/sbin/${t}`, '../bin/kmod')
  await file('/bin/dmesg', hostFiles.dmesg)
  const libs = new Set([...(await sharedLibraries(hostFiles.kmod)), ...(await sharedLibraries(hostFiles.dmesg))])
  for (const lib of [...libs].sort()) await file(lib, await realpath(lib))
  const archive = writeCpio(entries)
  const hash = sha256(archive)
  const out = path.join(cacheDir(), `initramfs-${release}-${hash.slice(0, 16)}.cpio`)
  try {
    await access(out)
  } catch {
    await writeCacheFile(out, archive)
  }
  return { file: out, hash }
}
