// depmod's positioned-read reader and its facts cache: the reader must give what libkmod's whole-file
// reading (elf/kmod.ts, judged against kmod 30 elsewhere) gives, on every installed module and on corrupted
// ones; the cache must serve an unchanged file, re-read a changed one and survive a corrupt cache file.
import { appendFileSync, closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { serialize } from 'node:v8'
import { execa } from 'execa'
import { dir as tmpDir } from 'tmp-promise'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { KmodAbort } from '../../elf/kmod.js'
import { caseRandom, mutate } from '../fuzz/mutate.js'
import type { SimKernel } from '../kernel/types.js'
import { Vfs } from '../vfs.js'
import { treeModules } from '../cpu/testkit.js'
import type { ToolContext } from './context.js'
import { depmod, DEPMOD_OUTPUTS } from './depmod.js'
import { factsCacheDir } from './depmod-cache.js'
import { factsFromBytes, readFactsFast } from './depmod-facts.js'

const R = '6.1.0-56-amd64'
const noKernel = { release: R, readFile: () => undefined, listDir: () => undefined } as unknown as SimKernel

function fast(path: string, wholeUpTo?: number) {
  const fd = openSync(path, 'r')
  try {
    return readFactsFast(fd, statSync(path).size, wholeUpTo)
  } finally {
    closeSync(fd)
  }
}

describe('positioned reads give what libkmod reads from the whole file', () => {
  test('every module of the installed 6.1 tree', () => {
    const all = treeModules()
    expect(all.length).toBeGreaterThan(4000)
    let slow = 0
    for (const p of all) {
      const got = fast(p)
      if (!got) slow++
      else expect(got, p).toEqual(factsFromBytes(readFileSync(p)))
      // small files are read in one call: the positioned reads of parts must give the same
      if (got && statSync(p).size < 128 * 1024) expect(fast(p, 0), p).toEqual(got)
    }
    // a well-formed module never needs the whole-file path
    expect(slow).toBe(0)
  }, 120_000)

  test('corrupted modules: the fast reader agrees, or hands the file to the whole-file reader', async () => {
    const t = await tmpDir({ unsafeCleanup: true })
    try {
      const seeds = ['fixtures/hello/hello_api.ko', 'fixtures/modprobe/modprobe_demo.ko', 'fixtures/errors/params.ko'].map((f) => readFileSync(f))
      let agreed = 0
      let handed = 0
      for (let i = 0; i < 600; i++) {
        const { bytes: bad, how } = mutate(seeds[i % seeds.length]!, caseRandom(1212, i))
        const p = join(t.path, `m${i}.ko`)
        writeFileSync(p, bad)
        const got = fast(p)
        const whole = factsFromBytes(bad)
        // the positioned reads of parts (as for a large file) agree with the one read of the whole file
        expect(fast(p, 0), `case ${i}: ${how.join('; ')}`).toEqual(got)
        if (!got) handed++
        else {
          expect(whole, `case ${i}: ${how.join('; ')}`).not.toBeInstanceOf(KmodAbort)
          expect(got, `case ${i}: ${how.join('; ')}`).toEqual(whole)
          agreed++
        }
      }
      // both paths must have been taken, or the test shows nothing
      expect(agreed).toBeGreaterThan(50)
      expect(handed).toBeGreaterThan(50)
    } finally {
      await t.cleanup()
    }
  })
})

describe('the facts cache', () => {
  let cacheHome: Awaited<ReturnType<typeof tmpDir>>
  let tree: Awaited<ReturnType<typeof tmpDir>>
  const saved = process.env.XDG_CACHE_HOME
  beforeEach(async () => {
    cacheHome = await tmpDir({ unsafeCleanup: true })
    tree = await tmpDir({ unsafeCleanup: true })
    process.env.XDG_CACHE_HOME = cacheHome.path
    const d = join(tree.path, 'lib/modules', R, 'extra')
    mkdirSync(d, { recursive: true })
    for (const f of ['hello/hello_api.ko', 'hello/hello_feature.ko', 'modprobe/modprobe_demo.ko']) cpSync(join('fixtures', f), join(d, f.split('/')[1]!))
    for (const f of readdirSync(d)) utimesSync(join(d, f), 1_700_000_000, 1_700_000_000)
  })
  afterEach(async () => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME
    else process.env.XDG_CACHE_HOME = saved
    await cacheHome.cleanup()
    await tree.cleanup()
  })

  const run = () => {
    let err = ''
    const vfs = new Vfs({ release: R, kernel: noKernel, sysroot: tree.path })
    const ctx = { kernel: noKernel, vfs, release: R, cwd: '/', out: () => {}, err: (t: string) => void (err += t) } as unknown as ToolContext
    const rc = depmod(ctx, ['depmod', '-a'])
    const dep = readFileSync(join(tree.path, 'lib/modules', R, 'modules.dep'), 'utf8')
    return { rc, err, dep }
  }
  const api = () => join(tree.path, 'lib/modules', R, 'extra/hello_api.ko')
  const cacheFiles = () => (existsSync(factsCacheDir()) ? readdirSync(factsCacheDir()).filter((n) => n.endsWith('.cache')) : [])

  test('an unchanged file is served from the cache (its bytes are not read again); a new mtime makes depmod read it', () => {
    const first = run()
    expect(first.dep).toContain('extra/hello_feature.ko: extra/hello_api.ko')
    expect(cacheFiles()).toHaveLength(1)
    // same size, same mtime, different bytes: only a cache hit still sees the exports
    writeFileSync(api(), Buffer.alloc(statSync(api()).size))
    utimesSync(api(), 1_700_000_000, 1_700_000_000)
    // another module's new mtime: the run is rebuilt from the facts, hello_api's from the cache
    utimesSync(join(tree.path, 'lib/modules', R, 'extra/modprobe_demo.ko'), 1_700_000_050, 1_700_000_050)
    expect(run()).toEqual(first)
    utimesSync(api(), 1_700_000_100, 1_700_000_100)
    const third = run()
    expect(first.err).not.toContain('failed to load symbols')
    expect(third.err).toContain('depmod: ERROR: failed to load symbols from /lib/modules/6.1.0-56-amd64/extra/hello_api.ko: Exec format error\n')
    expect(third.dep).toContain('extra/hello_feature.ko:\n')
  })

  test('a run with every input unchanged replays the last output; a changed modules.order is a new input (kmod 30 is the judge)', async () => {
    const d = join(tree.path, 'lib/modules', R)
    writeFileSync(join(d, 'modules.order'), 'extra/hello_api.ko\nextra/hello_feature.ko\nextra/modprobe_demo.ko\n')
    for (const f of ['modules.builtin', 'modules.builtin.modinfo']) cpSync(`/lib/modules/${R}/${f}`, join(d, f))
    const first = run()
    expect(first.err).toBe('')
    expect(readdirSync(factsCacheDir()).filter((n) => n.endsWith('.out'))).toHaveLength(1)
    expect(run()).toEqual(first)
    writeFileSync(join(d, 'modules.order'), 'extra/modprobe_demo.ko\nextra/hello_feature.ko\nextra/hello_api.ko\n')
    utimesSync(join(d, 'modules.order'), 1_700_000_200, 1_700_000_200)
    const third = run()
    expect(third.dep).not.toBe(first.dep)
    const sim = DEPMOD_OUTPUTS.map((f) => readFileSync(join(d, f)))
    await execa('/sbin/depmod', ['-b', tree.path, R])
    DEPMOD_OUTPUTS.forEach((f, i) => expect(readFileSync(join(d, f)).equals(sim[i]!), f).toBe(true))
  })

  test('a replayed output written in place since (the kept files are links to the outputs) is not replayed again', () => {
    const d = join(tree.path, 'lib/modules', R)
    writeFileSync(join(d, 'modules.order'), 'extra/hello_api.ko\nextra/hello_feature.ko\nextra/modprobe_demo.ko\n')
    for (const f of ['modules.builtin', 'modules.builtin.modinfo']) cpSync(`/lib/modules/${R}/${f}`, join(d, f))
    const first = run()
    expect(run()).toEqual(first)
    appendFileSync(join(d, 'modules.dep'), 'edited by hand\n')
    expect(run()).toEqual(first)
    // and the kept files were not changed by the write that followed the edit
    expect(run()).toEqual(first)
  })

  test('a cache file with mutated bytes is read, or ignored and rewritten: the run is the same either way, and never throws', () => {
    const first = run()
    const file = join(factsCacheDir(), cacheFiles()[0]!)
    const good = readFileSync(file)
    let ignored = 0
    for (let i = 0; i < 60; i++) {
      const { bytes, how } = mutate(good, caseRandom(2024, i))
      writeFileSync(file, bytes)
      expect(run(), `case ${i}: ${how.join('; ')}`).toEqual(first)
      if (readFileSync(file).equals(good)) ignored++
    }
    // most mutations break it (the run rewrote the good file): the test shows that path
    expect(ignored).toBeGreaterThan(30)
  })

  test('a corrupt or truncated cache file is ignored and rewritten', () => {
    const first = run()
    const file = join(factsCacheDir(), cacheFiles()[0]!)
    const good = readFileSync(file)
    for (const bad of [
      Buffer.from('garbage'),
      good.subarray(0, good.length >> 1),
      Buffer.concat([good.subarray(0, good.indexOf(10) + 1), Buffer.from('x\0y\0-3\0')]),
      // V8's serializer's own bytes for hello_api as it is stamped, but not the cache's shape: a need that is not a string, a hole, a weak need past the needs
      ...[
        { err: 0, aliases: [], softdeps: [], exports: [], needs: [7], weak: [] },
        { err: 0, aliases: [], softdeps: [], exports: [], needs: new Array<string>(2), weak: [] },
        { err: 0, aliases: [], softdeps: [], exports: [], needs: ['a'], weak: [1] },
      ].map((facts) =>
        Buffer.concat([
          good.subarray(0, good.indexOf(10) + 1),
          serialize({
            keys: [`/lib/modules/${R}/extra/hello_api.ko`],
            sizes: Float64Array.of(statSync(api()).size),
            mtimes: Float64Array.of(statSync(api()).mtimeMs),
            facts: [facts],
          }),
        ]),
      ),
    ]) {
      writeFileSync(file, bad)
      expect(run()).toEqual(first)
      expect(readFileSync(file)).toEqual(good)
    }
  })
})
