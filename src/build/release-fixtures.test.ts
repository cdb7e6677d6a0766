import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { describe, expect, test } from 'vitest'
import { modinfoValue, readModule } from '../elf/module.js'
import { EMBEDDED_RELEASE } from '../profile/embedded.js'
import { fixturesRoot } from './fixtures.js'
import { packageFixturesFor, releaseFixtures } from './release-fixtures.js'

const other = '6.12.117+deb12-amd64'

describe('releaseFixtures', () => {
  test('the pinned release runs the scripts from the project itself (the committed fixtures)', async () => {
    expect(join(await releaseFixtures(EMBEDDED_RELEASE), 'fixtures')).toBe(fixturesRoot)
  })

  test.runIf(existsSync(`/lib/modules/${other}/build/Makefile`))(
    `another release gets modules built for it, compressed copies and its own built-ins (${other})`,
    async () => {
      const dir = await releaseFixtures(other)
      expect(dir).toContain(`/kmodspec/fixtures/${other}/`)
      const api = readFileSync(join(dir, 'fixtures/hello/hello_api.ko'))
      expect(modinfoValue(readModule(api), 'vermagic')).toBe(`${other} SMP preempt mod_unload modversions `)
      const { stdout } = await execa('xz', ['-dc', join(dir, 'fixtures/compressed/hello_api.ko.xz')], { encoding: 'buffer' })
      expect(Buffer.compare(stdout as Uint8Array, api)).toBe(0)
      expect(readFileSync(join(dir, 'fixtures/builtin/modules.builtin'), 'utf8')).toBe(readFileSync(`/lib/modules/${other}/modules.builtin`, 'utf8'))
      expect(existsSync(join(dir, 'fixtures/printk')), 'printk/ does not build on 6.8+ (strlcpy)').toBe(false)
      // A second call finds the tree in the cache.
      const started = Date.now()
      expect(await releaseFixtures(other)).toBe(dir)
      expect(Date.now() - started).toBeLessThan(2000)
    },
  )

  test.runIf(existsSync(`/lib/modules/${other}/build/Makefile`))(
    "a spec's fixtures/stacking on another release is that release's tree; the pinned release, other directories and printk/ stay as they are",
    async () => {
      const tree = await releaseFixtures(other)
      expect(await packageFixturesFor(join(fixturesRoot, 'stacking'), other)).toBe(join(tree, 'fixtures', 'stacking'))
      expect(await packageFixturesFor(join(fixturesRoot, 'errors'), other)).toBe(join(tree, 'fixtures', 'errors'))
      expect(await packageFixturesFor(join(fixturesRoot, 'stacking'), EMBEDDED_RELEASE)).toBeUndefined()
      expect(await packageFixturesFor(join(fixturesRoot, 'printk'), other)).toBeUndefined()
      expect(await packageFixturesFor(fixturesRoot, other)).toBeUndefined()
      expect(await packageFixturesFor('/tmp', other)).toBeUndefined()
    },
  )
})
