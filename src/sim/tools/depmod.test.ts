import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { dir as tmpDir } from 'tmp-promise'
import { describe, expect, test } from 'vitest'
import { Vfs } from '../vfs.js'
import type { SimKernel } from '../kernel/types.js'
import type { ToolContext } from './context.js'
import { depmod, DEPMOD_OUTPUTS } from './depmod.js'
import { readIndex } from './index-bin.js'

const R = '6.1.0-56-amd64'
const HOST_TREE = `/lib/modules/${R}`
const TEXT_FILES = ['modules.dep', 'modules.alias', 'modules.symbols', 'modules.softdep', 'modules.devname']

/** A kernel that is never asked anything: depmod works on files only. */
const noKernel = { release: R, readFile: () => undefined, listDir: () => undefined } as unknown as SimKernel

function context(sysroot: string): { ctx: ToolContext; out: string[]; err: string[] } {
  const out: string[] = []
  const err: string[] = []
  const vfs = new Vfs({ release: R, kernel: noKernel, sysroot })
  const ctx = { kernel: noKernel, vfs, release: R, cwd: '/', out: (t: string) => out.push(t), err: (t: string) => err.push(t) } as unknown as ToolContext
  return { ctx, out, err }
}

/** Run kmod's real depmod on `root` and the simulator's on a copy; return both trees' dirs. */
async function both(setup: (moddir: string) => void) {
  const real = await tmpDir({ unsafeCleanup: true })
  const sim = await tmpDir({ unsafeCleanup: true })
  for (const t of [real, sim]) {
    mkdirSync(join(t.path, 'lib/modules', R), { recursive: true })
    setup(join(t.path, 'lib/modules', R))
  }
  const host = await execa('depmod', ['-b', real.path, R], { reject: false })
  const { ctx, err } = context(sim.path)
  const started = performance.now()
  const rc = depmod(ctx, ['depmod', '-a'])
  const ms = performance.now() - started
  return {
    real: join(real.path, 'lib/modules', R),
    sim: join(sim.path, 'lib/modules', R),
    host,
    rc,
    err: err.join(''),
    ms,
    cleanup: async () => {
      await real.cleanup()
      await sim.cleanup()
    },
  }
}

const fixtures = ['hello/hello_api.ko', 'hello/hello_feature.ko', 'modprobe/modprobe_demo.ko', 'refcount/refget.ko', 'errors/params.ko', 'errors/gpl_user.ko']

describe('depmod against kmod 30 depmod -b', () => {
  test('fixture modules in extra/: same text files, same warnings, an index kmod can read', async () => {
    const r = await both((d) => {
      mkdirSync(join(d, 'extra'))
      for (const f of fixtures) cpSync(join('fixtures', f), join(d, 'extra', f.split('/')[1]!))
    })
    try {
      expect(r.rc).toBe(0)
      for (const f of TEXT_FILES) expect(readFileSync(join(r.sim, f), 'utf8'), f).toBe(readFileSync(join(r.real, f), 'utf8'))
      // the simulated machine sees its sysroot at /, kmod saw it under the temp dir
      expect(r.err).toBe((r.host.stderr + (r.host.stderr ? '\n' : '')).replaceAll(r.real.replace(`/lib/modules/${R}`, ''), ''))
      for (const f of ['modules.dep.bin', 'modules.alias.bin', 'modules.symbols.bin']) {
        expect(readIndex(readFileSync(join(r.sim, f))), f).toEqual(readIndex(readFileSync(join(r.real, f))))
      }
    } finally {
      await r.cleanup()
    }
  })

  test('the installed 6.1 tree (4,023 modules): all 10 files byte for byte, the binary indexes included', async () => {
    // Never skipped: without the tree this comparison with kmod cannot be made, and that must show.
    expect(existsSync(`${HOST_TREE}/modules.order`), `${HOST_TREE} is missing: install linux-image-amd64 (npm run vm:setup)`).toBe(true)
    const r = await both((d) => {
      symlinkSync(join(HOST_TREE, 'kernel'), join(d, 'kernel'))
      for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) cpSync(join(HOST_TREE, f), join(d, f))
    })
    try {
      console.log(`sim depmod over the full tree: ${r.ms.toFixed(0)} ms`)
      expect(r.rc).toBe(0)
      expect(
        readdirSync(r.real)
          .filter((f) => !['kernel', 'modules.order', 'modules.builtin', 'modules.builtin.modinfo'].includes(f))
          .sort(),
      ).toEqual(DEPMOD_OUTPUTS)
      for (const f of DEPMOD_OUTPUTS) expect(readFileSync(join(r.sim, f)).equals(readFileSync(join(r.real, f))), f).toBe(true)
    } finally {
      await r.cleanup()
    }
  })
})
