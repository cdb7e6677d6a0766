/**
 * Test support: run one command on the simulated tools and on the host's real kmod 30 over the
 * same temporary sysroot, so a test can compare stdout, stderr, exit code and the files written.
 * Only userspace-only commands go to the host (depmod -b, modprobe -n/-D/-c/--show-* with -d,
 * modinfo -b): nothing is ever loaded into the host's kernel.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { execa } from 'execa'
import type { SimKernel } from '../kernel/types.js'
import { Vfs } from '../vfs.js'
import type { ToolContext } from './context.js'
import { runTool } from './index.js'

export const R = '6.1.0-56-amd64'

export interface Outcome {
  exitCode: number
  stdout: string
  stderr: string
}

/** A kernel with nothing loaded that only answers /proc/cmdline: enough for tools that read files. */
function idleKernel(cmdline: string): SimKernel {
  const readFile = (p: string) => (p === '/proc/cmdline' ? cmdline : undefined)
  return { release: R, readFile, listDir: () => undefined, writeFile: () => -2 } as unknown as SimKernel
}

/** The host's own /proc/cmdline: the real modprobe reads it, so the simulated one is given the same. */
export const HOST_CMDLINE = readFileSync('/proc/cmdline', 'utf8')

/** Run argv on the simulated tools with `root` as the sysroot. */
export function simRun(root: string, argv: string[], cwd = '/'): Outcome {
  let stdout = ''
  let stderr = ''
  const kernel = idleKernel(HOST_CMDLINE)
  const vfs = new Vfs({ release: R, kernel, sysroot: root })
  const ctx = { kernel, vfs, release: R, cwd, out: (t: string) => void (stdout += t), err: (t: string) => void (stderr += t) } as unknown as ToolContext
  const exitCode = runTool(ctx, argv)
  return { exitCode, stdout, stderr }
}

/** libkmod prints its context's heap address in some lines; neither side can predict it. */
export const maskPointers = (s: string) => s.replace(/ctx=0x[0-9a-f]+/g, 'ctx=0x…')

/** Run argv with the host's kmod 30, pointed at `root` the way each tool allows. */
export async function hostRun(root: string, argv: string[], cwd = '/'): Promise<Outcome> {
  const [cmd, ...rest] = argv
  const where: Record<string, string[]> = {
    modprobe: ['-d', root, '-S', R, '-C', join(root, 'etc/modprobe.d')],
    depmod: ['-b', root, '-C', join(root, 'etc/depmod.d')],
    modinfo: ['-b', root, '-k', R],
  }
  const r = await execa(`/sbin/${cmd}`, [...(where[cmd!] ?? []), ...rest], { reject: false, cwd, stripFinalNewline: false })
  const strip = (s: string) => s.replaceAll(root, '')
  return { exitCode: r.exitCode ?? -1, stdout: strip(String(r.stdout)), stderr: strip(String(r.stderr)) }
}

/** Every file under `dir` with its bytes, by path relative to it. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      const r = rel ? `${rel}/${name}` : name
      if (statSync(p).isDirectory()) walk(p, r)
      else out[r] = readFileSync(p).toString('base64')
    }
  }
  walk(dir, '')
  return out
}

/** Lay out a sysroot: files by path under it (a Buffer, a string, or {copy: hostPath}). */
export function layout(root: string, files: Record<string, string | Uint8Array | { copy: string }>): void {
  for (const dir of [`lib/modules/${R}`, 'etc/modprobe.d', 'etc/depmod.d']) mkdirSync(join(root, dir), { recursive: true })
  for (const [rel, data] of Object.entries(files)) {
    const p = join(root, rel)
    mkdirSync(dirname(p), { recursive: true })
    if (typeof data === 'object' && !(data instanceof Uint8Array)) cpSync(data.copy, p)
    else writeFileSync(p, data)
  }
}

/** Remove what depmod writes, so the other side starts from the same tree. */
export function removeIndexes(root: string): void {
  const dir = join(root, 'lib/modules', R)
  for (const name of readdirSync(dir)) {
    if (/^modules\.(dep|alias|softdep|symbols|devname|builtin\.alias)(\.bin)?$/.test(name) || name === 'modules.builtin.bin') rmSync(join(dir, name))
  }
}
