// modinfo and modprobe's dry runs touch no kernel: kmod 30 on this host is their judge.
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { dir as tmpDir } from 'tmp-promise'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { SimKernel } from '../kernel/types.js'
import { Vfs } from '../vfs.js'
import type { ToolContext } from './context.js'
import { runTool } from './index.js'

const R = '6.1.0-56-amd64'
const INSTALLED_SIGNED = `/lib/modules/${R}/kernel/drivers/net/dummy.ko`
// a copy outside /lib/modules: the simulated /lib/modules is the test's sysroot, not the host's
const signedDir = mkdtempSync(join(tmpdir(), 'kmodspec-signed-'))
const SIGNED = join(signedDir, 'dummy.ko')
if (existsSync(INSTALLED_SIGNED)) cpSync(INSTALLED_SIGNED, SIGNED)
/** A kernel with nothing loaded: enough for tools that only read files. */
const idle = { release: R, readFile: () => undefined, listDir: () => undefined } as unknown as SimKernel

function run(sysroot: string, argv: string[], cwd = process.cwd()) {
  let stdout = ''
  let stderr = ''
  const ctx = {
    kernel: idle,
    vfs: new Vfs({ release: R, kernel: idle, sysroot }),
    release: R,
    cwd,
    out: (t: string) => void (stdout += t),
    err: (t: string) => void (stderr += t),
  } as unknown as ToolContext
  const exitCode = runTool(ctx, argv)
  return { exitCode, stdout, stderr }
}

let root: string
let cleanup: () => Promise<void>
beforeAll(async () => {
  const t = await tmpDir({ unsafeCleanup: true })
  root = t.path
  cleanup = t.cleanup
  const extra = join(root, 'lib/modules', R, 'extra')
  mkdirSync(extra, { recursive: true })
  mkdirSync(join(root, 'etc/modprobe.d'), { recursive: true })
  for (const f of ['hello/hello_api.ko', 'hello/hello_feature.ko', 'modprobe/modprobe_demo.ko', 'errors/params.ko'])
    cpSync(join('fixtures', f), join(extra, f.split('/')[1]!))
  writeFileSync(join(root, 'etc/modprobe.d/test.conf'), 'options hello_api greeting=x\nalias my-demo modprobe_demo\n')
  await execa('depmod', ['-b', root, R])
})
afterAll(async () => {
  await cleanup()
  rmSync(signedDir, { recursive: true, force: true })
})

async function host(argv: string[]) {
  const [cmd, ...rest] = argv
  const extra = cmd === 'modprobe' ? ['-d', root, '-S', R, '-C', join(root, 'etc/modprobe.d')] : []
  const r = await execa(cmd!, [...extra, ...rest], { reject: false })
  const strip = (s: string) => (s ? s.replaceAll(root, '') + '\n' : '')
  return { exitCode: r.exitCode, stdout: strip(r.stdout), stderr: strip(r.stderr) }
}

describe('modinfo matches kmod 30 on module files', () => {
  for (const argv of [
    ['modinfo', 'fixtures/hello/hello_feature.ko'],
    ['modinfo', 'fixtures/errors/params.ko'],
    ['modinfo', '-p', 'fixtures/errors/params.ko'],
    ['modinfo', '-F', 'depends', 'fixtures/hello/hello_feature.ko'],
    ['modinfo', '--field', 'parm', 'fixtures/errors/params.ko'],
    ['modinfo', 'fixtures/errors/not_elf.ko'],
    ['modinfo', 'fixtures/errors/truncated.ko'],
    ['modinfo', 'fixtures/nothing.ko'],
    // a signed in-tree module: sig_id, signer, sig_key, sig_hashalgo, signature
    ...(existsSync(SIGNED)
      ? [
          ['modinfo', SIGNED],
          ['modinfo', '-F', 'signer', SIGNED],
        ]
      : []),
    ['modinfo'],
  ]) {
    test(argv.join(' '), async () => {
      const expected = await host(argv)
      expect(run(root, argv)).toEqual({ ...expected, stdout: expected.stdout.replaceAll(process.cwd(), process.cwd()) })
    })
  }
})

describe('modprobe dry runs match kmod 30 on a depmod-ed sysroot', () => {
  for (const argv of [
    ['modprobe', '-n', '-v', 'hello_feature'],
    ['modprobe', '-D', 'hello_feature'],
    ['modprobe', '-n', '-v', 'hello_api', 'extra=1', 'two=a b'],
    ['modprobe', '-n', '-v', 'my-demo'],
    ['modprobe', '-n', '-v', 'modprobe_demo'],
    ['modprobe', 'nothere'],
    ['modprobe', '-q', 'nothere'],
    ['modprobe', '-n', '-v', '-a', 'nothere', 'hello_api'],
    ['modprobe', '-r', '-n', '-v', 'hello_feature'],
    ['modprobe', '-R', 'my-demo'],
    ['modprobe'],
  ]) {
    test(argv.join(' '), async () => {
      expect(run(root, argv)).toEqual(await host(argv))
    })
  }
})
