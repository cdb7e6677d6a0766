// One corrupted module in a tree of good ones: the simulated depmod says what kmod 30's depmod -b
// says about it (its errno text, or libkmod's assertion when kmod aborts) and writes the same
// modules.dep. The judge is the host's depmod on a copy of the same temp sysroot.
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { dir as tmpDir } from 'tmp-promise'
import { describe, expect, test } from 'vitest'
import { Vfs } from '../vfs.js'
import type { SimKernel } from '../kernel/types.js'
import type { ToolContext } from './context.js'
import { depmod } from './depmod.js'
import { caseRandom, mutate } from '../fuzz/mutate.js'

const R = '6.1.0-56-amd64'
const noKernel = { release: R, readFile: () => undefined, listDir: () => undefined } as unknown as SimKernel
const good = ['hello/hello_api.ko', 'hello/hello_feature.ko', 'modprobe/modprobe_demo.ko', 'errors/params.ko']

async function compare(bad: Uint8Array): Promise<{ sim: unknown; kmod: unknown }> {
  const real = await tmpDir({ unsafeCleanup: true })
  const sim = await tmpDir({ unsafeCleanup: true })
  try {
    for (const t of [real, sim]) {
      const d = join(t.path, 'lib/modules', R, 'extra')
      mkdirSync(d, { recursive: true })
      for (const f of good) cpSync(join('fixtures', f), join(d, f.split('/')[1]!))
      writeFileSync(join(d, 'zz_bad.ko'), bad)
    }
    const host = await execa('/sbin/depmod', ['-b', real.path, R], { reject: false, stripFinalNewline: false })
    let err = ''
    const vfs = new Vfs({ release: R, kernel: noKernel, sysroot: sim.path })
    const ctx = { kernel: noKernel, vfs, release: R, cwd: '/', out: () => undefined, err: (t: string) => void (err += t) } as unknown as ToolContext
    const rc = depmod(ctx, ['depmod', '-a'])
    const dep = (root: string) => {
      const p = join(root, 'lib/modules', R, 'modules.dep')
      return existsSync(p) ? readFileSync(p, 'utf8') : '(none)'
    }
    const code = host.exitCode ?? (host.signal === 'SIGABRT' ? 134 : -1)
    return {
      sim: { rc, stderr: err, dep: dep(sim.path) },
      kmod: { rc: code, stderr: String(host.stderr).replaceAll(real.path, ''), dep: dep(real.path) },
    }
  } finally {
    await real.cleanup()
    await sim.cleanup()
  }
}

const base = () => new Uint8Array(readFileSync('fixtures/hello/hello_api.ko'))
const set = (b: Uint8Array, at: number, bytes: number[]) => (b.set(bytes, at), b)

describe('depmod survives one bad module and reports it as kmod 30 does', () => {
  const cases: Array<[string, () => Uint8Array]> = [
    ['not ELF: Exec format error', () => set(base(), 0, [0x58, 0x58, 0x58, 0x58])],
    ['ELF class 3: Invalid argument', () => set(base(), 4, [3])],
    ['section headers past the end: Invalid argument', () => set(base(), 40, [0, 0, 0, 0, 1, 0, 0, 0])],
    ['truncated to 100 bytes', () => base().subarray(0, 100)],
    ['an empty file', () => new Uint8Array()],
    ['e_shstrndx 0: kmod aborts on its assertion', () => set(base(), 62, [0, 0])],
  ]
  for (const [label, make] of cases) {
    test(label, async () => {
      const r = await compare(make())
      expect(r.sim).toEqual(r.kmod)
    })
  }

  test('40 seeded mutants: same report and same modules.dep', async () => {
    const wrong: string[] = []
    for (let i = 0; i < 40; i++) {
      const m = mutate(base(), caseRandom(1014, i))
      const r = await compare(m.bytes)
      if (JSON.stringify(r.sim) !== JSON.stringify(r.kmod))
        wrong.push(`case ${i} (${m.how.join('; ')}):\n  sim:  ${JSON.stringify(r.sim)}\n  kmod: ${JSON.stringify(r.kmod)}`)
    }
    expect(wrong.join('\n')).toBe('')
  }, 120_000)
})
