// The boot-time registrations of a release (majors, misc minors, filesystems) as captured from the real
// kernel into profiles/<release>.registries.json by fixtures/real/capture.mjs; undefined without one.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { BootRegistries } from '../kapi/index.js'

const cache = new Map<string, BootRegistries | undefined>()

/**
 * @example bootRegistriesOf('6.1.0-56-amd64')?.blkdev // [[259, 'blkext']]
 */
export function bootRegistriesOf(release: string): BootRegistries | undefined {
  if (!cache.has(release)) {
    let data: BootRegistries | undefined
    try {
      data = JSON.parse(readFileSync(fileURLToPath(new URL(`../../../profiles/${release}.registries.json`, import.meta.url)), 'utf8')) as BootRegistries
    } catch {
      data = undefined
    }
    cache.set(release, data)
  }
  return cache.get(release)
}
