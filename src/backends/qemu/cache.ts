import { createHash } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import process from 'node:process'

const made = new Set<string>()

/** kmodspec's cache directory, $XDG_CACHE_HOME/kmodspec else ~/.cache/kmodspec; it exists once this returns. */
export function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache')
  const dir = path.join(base, 'kmodspec')
  // Tools such as gcc and QEMU write into it directly: a fresh machine has no ~/.cache yet.
  if (!made.has(dir)) {
    mkdirSync(dir, { recursive: true })
    made.add(dir)
  }
  return dir
}

export function sha256(...parts: (string | Uint8Array)[]): string {
  const h = createHash('sha256')
  for (const p of parts) h.update(p).update('\0')
  return h.digest('hex')
}

/** Writes a cache file atomically, so parallel test workers never see half a file. */
export async function writeCacheFile(file: string, data: Uint8Array): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`
  await writeFile(tmp, data)
  await rename(tmp, file)
}
