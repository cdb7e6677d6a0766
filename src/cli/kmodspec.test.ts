// The kmodspec bin (kmodspec.cts) as users run it: the built bundle, with V8's compiled code kept between runs.
// The code cache must be written once, used after, rewritten when it is damaged or V8 refuses it, skipped when
// switched off, and never make a run fail.
import { createHash } from 'node:crypto'
import { copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { withDir } from 'tmp-promise'
import { expect, test } from 'vitest'

const bin = fileURLToPath(new URL('../../dist/cli/kmodspec.cjs', import.meta.url))

test('the compiled code is kept once, used after, rewritten when corrupt, and never needed', async () => {
  await withDir(
    async ({ path: dir }) => {
      const script = path.join(dir, 'hello.sh')
      writeFileSync(script, 'insmod fixtures/hello/hello_api.ko\nlsmod\n')
      const code = path.join(dir, 'code')
      const run = (cache: string) => execa(process.execPath, [bin, 'sh', script], { env: { KMODSPEC_CODE_CACHE: cache }, reject: false })
      const want = await run('off')
      expect(want.exitCode).toBe(0)
      expect(want.stdout).toContain('hello_api              16384  0')
      // switched off: nothing written
      expect(() => readdirSync(code)).toThrow()

      expect((await run(code)).stdout).toBe(want.stdout)
      const [file, ...more] = readdirSync(code)
      expect(more).toEqual([])
      // named by the bundle and the Node version
      expect(file).toMatch(new RegExp(`^[0-9a-f]{8}-\\d+-[\\d.]+-${process.version}-${process.arch}\\.bin$`))
      const kept = path.join(code, file!)
      const made = statSync(kept)
      expect(made.size).toBeGreaterThan(10_000)

      // used as it is: not written again
      expect((await run(code)).stdout).toBe(want.stdout)
      expect(statSync(kept).mtimeMs).toBe(made.mtimeMs)

      // not a file the bin wrote (too short for its digest), and one whose digest is right but whose data V8
      // refuses (not V8's header): each run works and writes a good one
      const good = readFileSync(kept)
      const junk = Buffer.from('not compiled code')
      for (const other of [junk, Buffer.concat([createHash('sha256').update(junk).digest(), junk])]) {
        writeFileSync(kept, other)
        expect((await run(code)).stdout).toBe(want.stdout)
        expect(readFileSync(kept).length).toBeGreaterThan(10_000)
      }

      // V8's data damaged past its header (V8 would end the process with a fatal error): found by its digest,
      // the run works and writes a good one
      for (const at of [2_000, Math.floor(good.length / 2)]) {
        const bad = Buffer.from(good)
        bad.fill(0xff, at, at + 8)
        writeFileSync(kept, bad)
        const r = await run(code)
        expect([r.exitCode, r.stdout, r.stderr], `damaged at ${at}`).toEqual([0, want.stdout, want.stderr])
        expect(readFileSync(kept).equals(bad), `damaged at ${at}`).toBe(false)
      }

      // a cache that cannot be written (a file where its directory should be): the run works all the same
      const blocked = path.join(dir, 'blocked')
      writeFileSync(blocked, '')
      const r = await run(path.join(blocked, 'code'))
      expect([r.exitCode, r.stdout, r.stderr]).toEqual([0, want.stdout, want.stderr])
    },
    { unsafeCleanup: true },
  )
}, 60_000)

test('a bin without its bundle says so in one line', async () => {
  await withDir(
    async ({ path: dir }) => {
      copyFileSync(bin, path.join(dir, 'kmodspec.cjs'))
      const r = await execa(process.execPath, [path.join(dir, 'kmodspec.cjs'), 'sh', 'x.sh'], { reject: false })
      expect([r.exitCode, r.stdout, r.stderr]).toEqual([
        1,
        '',
        `kmodspec: cannot read ${path.join(dir, 'kmodspec-bundle.cjs')} (ENOENT): rebuild the package with npm run build`,
      ])
    },
    { unsafeCleanup: true },
  )
})
