#!/usr/bin/env node
/**
 * The kmodspec command (the package's bin). It runs kmodspec-bundle.cjs, main.js and everything it imports in
 * one file (scripts/bundle.mjs), with V8's compiled code kept between runs, as Node 22's module compile cache
 * does: parsing and compiling the bundle's code took 30 ms of every start (143 ms, now 113 ms, for
 * `kmodspec sh` running only `echo`, by `npm run bench`). The bin is CommonJS itself: an ES module entry
 * starts Node's module loader, 6 ms more.
 *
 * The code is kept in `$KMODSPEC_CODE_CACHE` (`off`: not kept), else `$XDG_CACHE_HOME/kmodspec/code/` (default
 * ~/.cache), one file per installed bundle, named by its path, size and mtime and by the Node version. A run
 * that finds none, or one V8 refuses, writes it at exit, with the functions that run compiled. Any failure
 * to read or write it only costs the time. The file starts with the SHA-256 of V8's data, checked before V8
 * sees it (0.7 ms): V8 checks only the data's header, and data damaged after it ends the process with a fatal
 * error, at every start, until the file is removed.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import vm from 'node:vm'

const bundle = join(__dirname, 'kmodspec-bundle.cjs')

/** The SHA-256 of `data`. */
const digest = (data: Uint8Array | string) => createHash('sha256').update(data).digest()

/** The code cache's directory, and the name of this bundle's file there (undefined: no cache). */
function cachePlace(): { dir: string; name: string; prefix: string } | undefined {
  const setting = process.env.KMODSPEC_CODE_CACHE
  if (setting === 'off') return undefined
  const dir = setting || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kmodspec', 'code')
  const st = statSync(bundle)
  const prefix = `${digest(bundle).toString('hex').slice(0, 8)}-`
  return { dir, prefix, name: `${prefix}${st.size}-${st.mtimeMs}-${process.version}-${process.arch}.bin` }
}

/** V8's data in a cache file, or undefined when its digest does not match (a damaged or foreign file). */
function checked(file: Buffer): Buffer | undefined {
  const data = file.subarray(32)
  return file.length > 32 && digest(data).equals(file.subarray(0, 32)) ? data : undefined
}

/** Write the script's code to the cache (atomically), and drop older files of the same bundle. */
function save(script: vm.Script, place: { dir: string; name: string; prefix: string }): void {
  const file = join(place.dir, place.name)
  const tmp = `${file}.${process.pid}.tmp`
  try {
    mkdirSync(place.dir, { recursive: true })
    const data = script.createCachedData()
    writeFileSync(tmp, Buffer.concat([digest(data), data]))
    renameSync(tmp, file)
    for (const n of readdirSync(place.dir))
      if (n.startsWith(place.prefix) && n !== place.name && !n.endsWith('.tmp')) rmSync(join(place.dir, n), { force: true })
  } catch {
    // a read-only or full cache directory (or none: a file in its way): the next run compiles again
    try {
      rmSync(tmp, { force: true })
    } catch {
      // nothing was written
    }
  }
}

/** Run the bundle, with its compiled code when it is kept. */
function run(source: string): void {
  let place: ReturnType<typeof cachePlace>
  let cachedData: Buffer | undefined
  try {
    place = cachePlace()
    if (place) cachedData = checked(readFileSync(join(place.dir, place.name)))
  } catch {
    // no cache yet
  }
  // the bundle as a CommonJS module's body (same lines: the wrapper takes none)
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundle,
    cachedData,
    importModuleDynamically: (specifier: string) => import(specifier),
  })
  if (place && (!cachedData || script.cachedDataRejected)) {
    const where = place
    process.once('exit', () => save(script, where))
  }
  const module = { exports: {} }
  ;(script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(bundle), module, bundle, dirname(bundle))
}

let source: string | undefined
try {
  // all ASCII (scripts/bundle.mjs makes sure): latin1 is the cheapest decoding
  source = readFileSync(bundle, 'latin1')
} catch (e) {
  process.stderr.write(`kmodspec: cannot read ${bundle} (${(e as NodeJS.ErrnoException).code ?? String(e)}): rebuild the package with npm run build\n`)
  process.exitCode = 1
}
if (source !== undefined) run(source)
