// The file applets and the errno table, judged by this host's busybox and glibc.
import { execa } from 'execa'
import { expect, test } from 'vitest'
import type { SimKernel } from '../kernel/types.js'
import { Vfs } from '../vfs.js'
import type { ToolContext } from './context.js'
import { strerror } from './errors.js'
import { runTool } from './index.js'
import { BackendError } from '../../backends/types.js'

const R = '6.1.0-56-amd64'
const idle = { release: R, readFile: () => undefined, listDir: () => undefined } as unknown as SimKernel

function run(argv: string[]) {
  let stdout = ''
  let stderr = ''
  const vfs = new Vfs({ release: R, kernel: idle })
  const ctx = {
    kernel: idle,
    vfs,
    release: R,
    cwd: '/',
    out: (t: string) => void (stdout += t),
    err: (t: string) => void (stderr += t),
  } as unknown as ToolContext
  return { exitCode: runTool(ctx, argv), stdout, stderr }
}

for (const argv of [
  ['cat', '/nonexistent'],
  ['cat', '/etc'],
  ['cat', '/etc/hostname'],
  ['ls', '/nonexistent'],
  ['ls', '/etc/hostname'],
  ['mkdir', '/nonexistent/a'],
  ['mkdir', '/tmp'],
  ['cp', '/nonexistent', '/tmp'],
  ['cp', '/etc/hostname', '/nonexistent/dir/'],
  ['rm', '/nonexistent'],
  ['rm', '/tmp'],
  ['echo', 'a', 'b'],
]) {
  test(`${argv.join(' ')} prints what busybox prints`, async () => {
    const r = await execa('busybox', argv, { reject: false, stripFinalNewline: false })
    expect(run(argv)).toEqual({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr })
  })
}

test("strerror texts are glibc's", async () => {
  const codes = [1, 2, 3, 8, 11, 12, 13, 14, 16, 17, 19, 20, 21, 22, 26, 28, 38, 61, 74, 95, 110, 126, 127, 128, 129]
  const { stdout } = await execa('perl', ['-e', `for (${codes.join(',')}) { $! = $_; print "$!\\n" }`])
  expect(codes.map(strerror)).toEqual(stdout.split('\n'))
})

test('a command outside the script language is refused as the other backends refuse it', () => {
  expect(() => run(['frobnicate', 'x'])).toThrow(
    new BackendError(
      "unknown command 'frobnicate': the sim backend runs insmod, rmmod, lsmod, modinfo, modprobe, depmod, dmesg, cat, ls, mkdir, cp, rm, echo",
      'usage',
    ),
  )
  expect(() => run(['frobnicate'])).toThrow(expect.objectContaining({ kind: 'usage' }))
})
