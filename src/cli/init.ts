// `kmodspec init [DIR]`: turn a directory that holds a kernel module (Kbuild or Makefile with obj-m) into a
// kmodspec project: package.json scripts and devDependencies, vitest.config.ts, a spec per module generated
// from its own modinfo, and CI files. Never overwrites a file unless --force; says what it wrote.
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'
import { parseArgs } from 'node:util'
import { BuildError } from '../build/kbuild.js'
import { buildCached } from '../build/cache.js'
import { modinfoDepends, modinfoParams, modinfoValue, readModule } from '../elf/index.js'
import { githubWorkflow, gitlabCi, moduleSpec, vitestConfig, type ModuleFacts } from './init-files.js'
import { installedReleases, PINNED_RELEASE } from './releases.js'

const help = `usage: kmodspec init [DIR] [--release R] [--force]

Turns DIR (default: here), which holds a kernel module's sources and a Kbuild or Makefile with
obj-m, into a kmodspec project. It builds each module once with kbuild to read its modinfo, and
writes:
  package.json                    scripts (test, test:qemu, test:ci) and devDependencies (kmodspec, vitest)
  vitest.config.ts                specs/**/*.spec.ts
  specs/<module>.spec.ts          load and unload, its modinfo (license, dependencies, parameter
                                  types), a load with each parameter set
  .github/workflows/kmodspec.yml  simulator and QEMU (KVM) over a matrix of releases, cache of
                                  ~/.cache/kmodspec, JUnit reports uploaded
  .gitlab-ci.yml                  the same as a GitLab job
Then: npm install && npm test.

options:
  --release R   build for R to read the modinfo (default: ${PINNED_RELEASE} if its headers are
                installed, else the newest installed headers)
  --force       overwrite files that exist (package.json is always merged: its other fields stay)
  -h, --help    this text
`

/** Where kbuild files live: the project and its subdirectories (not node_modules, not hidden ones). */
async function kbuildDirs(root: string, depth = 3): Promise<string[]> {
  const found: string[] = []
  const walk = async (dir: string, left: number) => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
    if (entries.some((e) => e.isFile() && (e.name === 'Kbuild' || e.name === 'Makefile'))) found.push(dir)
    if (left === 0) return
    for (const e of entries)
      if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules' && e.name !== 'specs') await walk(path.join(dir, e.name), left - 1)
  }
  await walk(root, depth)
  return found
}

/** The modules a kbuild directory lists: `obj-m += a.o b.o` (Kbuild first, as kbuild reads it). */
export function objM(text: string): string[] {
  const joined = text.replace(/\\\n/g, ' ')
  return [...joined.matchAll(/^\s*obj-m\s*[:+]?=\s*(.*)$/gm)]
    .flatMap((m) => m[1]!.split(/\s+/))
    .filter((w) => w.endsWith('.o'))
    .map((w) => w.slice(0, -2))
}

function modulesIn(dir: string): string[] {
  for (const name of ['Kbuild', 'Makefile']) {
    const file = path.join(dir, name)
    if (!existsSync(file)) continue
    const names = objM(readFileSync(file, 'utf8'))
    if (names.length > 0) return names
  }
  return []
}

/** The release to build for: the pinned one when its headers are here, else the newest with headers. */
function chooseRelease(wanted: string | undefined): string {
  const withHeaders = installedReleases()
    .filter((r) => r.headers)
    .map((r) => r.release)
  if (wanted !== undefined) {
    if (!withHeaders.includes(wanted))
      throw new InitError(`no headers for ${wanted} here (installed: ${withHeaders.join(', ') || 'none'}): kmodspec setup --release ${wanted}`)
    return wanted
  }
  if (withHeaders.includes(PINNED_RELEASE)) return PINNED_RELEASE
  const newest = withHeaders.at(-1)
  if (newest === undefined)
    throw new InitError(
      `init builds the module once to read its modinfo, and no kernel headers are installed: kmodspec setup (or apt-get install linux-headers-$(uname -r))`,
    )
  return newest
}

class InitError extends Error {}

export interface InitIo {
  cwd: string
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
}

export async function main(argv: string[]): Promise<number> {
  return init(argv, { cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr })
}

/**
 * `kmodspec init` with its directory and streams given (for tests).
 * @example await init(['my_module'], { cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr })
 */
export async function init(argv: string[], io: InitIo): Promise<number> {
  try {
    return await initOrThrow(argv, io)
  } catch (error) {
    if (error instanceof InitError) {
      io.stderr.write(`kmodspec init: ${error.message}\n`)
      return error.message.startsWith('usage') ? 2 : 1
    }
    throw error
  }
}

async function initOrThrow(argv: string[], io: InitIo): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { force: { type: 'boolean' }, release: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    })
  } catch (error) {
    io.stderr.write(`kmodspec init: ${(error as Error).message}\n${help}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help) {
    io.stdout.write(help)
    return 0
  }
  if (positionals.length > 1) {
    io.stderr.write(`kmodspec init: one directory at a time (got ${positionals.join(' ')})\n`)
    return 2
  }
  const root = path.resolve(io.cwd, positionals[0] ?? '.')
  if (
    !(await stat(root).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  )
    throw new InitError(`${root} is not a directory: give the directory that holds your module's sources`)
  const dirs = (await kbuildDirs(root)).map((dir) => ({ dir, names: modulesIn(dir) })).filter((d) => d.names.length > 0)
  if (dirs.length === 0)
    throw new InitError(`no kernel module in ${root}: it needs a Kbuild or Makefile with an obj-m line (e.g. obj-m += my_module.o) beside the .c sources`)
  const release = chooseRelease(values.release)

  const facts: ModuleFacts[] = []
  for (const { dir } of dirs) {
    let files: string[]
    try {
      files = (await buildCached(dir, { release })).files
    } catch (error) {
      if (error instanceof BuildError)
        throw new InitError(`building ${path.relative(root, dir) || '.'} for ${release} to read its modinfo failed: ${error.message}`)
      throw error
    }
    for (const file of files) {
      const info = readModule(await readFile(file))
      facts.push({
        name: info.name,
        dir: path.relative(root, dir) || '.',
        release,
        license: modinfoValue(info, 'license'),
        depends: modinfoDepends(info),
        params: modinfoParams(info),
      })
    }
  }
  const names = facts.map((f) => f.name)
  const summary = facts
    .map((f) => `${f.name}.ko (parameters: ${f.params.map((p) => p.name).join(', ') || 'none'}; depends: ${f.depends.join(', ') || 'none'})`)
    .join(', ')
  io.stdout.write(`kmodspec init: built ${summary} for ${release} to read the modinfo\n`)

  const wrote: string[] = []
  const kept: string[] = []
  const put = async (rel: string, text: string) => {
    const file = path.join(root, rel)
    if (existsSync(file) && !values.force) {
      kept.push(rel)
      return
    }
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, text)
    wrote.push(rel)
  }
  const pkgLine = await writePackageJson(root, values.force === true, kept)
  if (pkgLine) wrote.push(pkgLine)
  await put('vitest.config.ts', vitestConfig)
  for (const f of facts) await put(path.join('specs', `${f.name}.spec.ts`), moduleSpec(f, names))
  await put(path.join('.github', 'workflows', 'kmodspec.yml'), githubWorkflow)
  await put('.gitlab-ci.yml', gitlabCi)
  for (const rel of wrote) io.stdout.write(`  wrote  ${rel}\n`)
  for (const rel of kept) io.stdout.write(`  kept   ${rel} (it exists: --force overwrites it)\n`)
  io.stdout.write(`next: ${positionals[0] ? `cd ${positionals[0]} && ` : ''}npm install && npm test\n`)
  return 0
}

/** kmodspec's own version and the vitest it is tested with, for the devDependencies it writes. */
function ownVersions(): { kmodspec: string; vitest: string } {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; devDependencies?: Record<string, string> }
  return { kmodspec: `^${pkg.version}`, vitest: pkg.devDependencies?.vitest ?? '^4' }
}

/** package.json: add the scripts and devDependencies; what exists stays unless --force. Returns its line for 'wrote', if written. */
async function writePackageJson(root: string, force: boolean, kept: string[]): Promise<string | undefined> {
  const file = path.join(root, 'package.json')
  const existed = existsSync(file)
  let pkg: Record<string, unknown> = {}
  if (existed) {
    try {
      pkg = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
    } catch {
      throw new InitError(`${file} is not valid JSON: fix it (or remove it) and run kmodspec init again`)
    }
  } else {
    pkg = {
      name: path
        .basename(root)
        .toLowerCase()
        .replace(/[^a-z0-9._-]/g, '-'),
      private: true,
      type: 'module',
    }
  }
  const versions = ownVersions()
  const scripts = {
    test: 'kmodspec run',
    'test:qemu': 'kmodspec run --backend qemu',
    'test:ci': 'kmodspec run --reporter default --reporter junit --output-file reports/junit.xml',
  }
  const added: string[] = []
  const merge = (key: 'scripts' | 'devDependencies', entries: Record<string, string>) => {
    const into = { ...((pkg[key] as Record<string, string> | undefined) ?? {}) }
    for (const [k, v] of Object.entries(entries)) {
      if (into[k] !== undefined && into[k] !== v && !force) kept.push(`package.json ${key}.${k} ('${into[k]}')`)
      else if (into[k] !== v) {
        into[k] = v
        added.push(`${key}.${k}`)
      }
    }
    pkg[key] = into
  }
  merge('scripts', scripts)
  merge('devDependencies', { kmodspec: versions.kmodspec, vitest: versions.vitest })
  if (existed && added.length === 0) return undefined
  await writeFile(file, JSON.stringify(pkg, null, 2) + '\n')
  return `package.json (${existed ? 'added' : 'new, with'} ${added.join(', ')})`
}
