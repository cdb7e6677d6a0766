// `kmodspec run`: run behaviour specs through vitest on a chosen backend and releases, and report them.
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import process from 'node:process'
import { parseArgs } from 'node:util'
import { execa } from 'execa'
import { dir as tmpDir } from 'tmp-promise'
import { resolveBackendName, resolveTree, type ModuleTree } from '../backends/index.js'
import { RECORD_DIR_ENV, type ChainRecord } from '../dsl/record.js'
import { EMBEDDED_RELEASE } from '../profile/index.js'
import { parseReleaseList, releaseProblem } from './releases.js'
import { addRun, emptyReport, mergeReports, parseReport, reportPassed, type RunReport } from './reporters/model.js'
import { formatJunit } from './reporters/junit.js'
import { formatKtap } from './reporters/ktap.js'
import { formatJson } from './reporters/json.js'
import { formatReport, type VitestJsonReport } from './run-report.js'

const help = `usage: kmodspec run [--backend B] [--release R[,R2...]] [--tree installed] [--reporter NAME]... [--output-file [NAME=]F]...
                    [--shard I/N] [--verbose] [--update] [FILES...] [-- VITEST OPTIONS]
       kmodspec run --merge-reports [--reporter NAME]... [--output-file [NAME=]F]... REPORT.json|DIR...

Runs behaviour specs (default: specs/) through vitest against a kernel and prints each spec
with ✓ or ✗, why a failing one failed, and one line with how many passed. With several
releases it runs every spec on each and prints one row per spec, one column per release.
Exits 1 when a spec fails, 2 on a bad option.

options:
  --backend B          sim (default; else KMODSPEC_BACKEND), qemu, host or ssh: sets KMODSPEC_BACKEND
  --release R          kernel releases to run on, comma-separated or repeated (else KMODSPEC_RELEASE;
                       else the backend's own): sets KMODSPEC_RELEASE for the specs, one run per release
  --tree T             installed: every kernel() sees the kernel's own /lib/modules/<release> unless
                       the spec says otherwise (sets KMODSPEC_TREE); default empty
  --reporter NAME      default (the terminal report), junit, ktap or json; repeat to combine
  --output-file F      where the one file reporter writes (NAME=F when there are several, e.g.
                       --output-file junit=junit.xml); without it, a lone file reporter prints
  --shard I/N          run the I-th of N parts of the spec files (vitest's own sharding); merge the
                       parts' json reports with --merge-reports
  --merge-reports      read json reports (files, or directories of *.json) instead of running specs,
                       and report them as one
  -v, --verbose        also show what each passing spec ran: commands, exit codes, kernel log lines
  -u, --update         update inline snapshots
  -h, --help           this text

FILES filter the spec files by path, as vitest does. Any other vitest option can follow '--'.
`

/** The options run accepts (its help names each one). */
export const runOptions = {
  backend: { type: 'string' },
  tree: { type: 'string' },
  release: { type: 'string', multiple: true },
  reporter: { type: 'string', multiple: true },
  'output-file': { type: 'string', multiple: true },
  shard: { type: 'string' },
  'merge-reports': { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  update: { type: 'boolean', short: 'u' },
  help: { type: 'boolean', short: 'h' },
} as const

const REPORTERS = ['default', 'junit', 'ktap', 'json'] as const
type ReporterName = (typeof REPORTERS)[number]
const formatters: Record<Exclude<ReporterName, 'default'>, (r: RunReport) => string> = { junit: formatJunit, ktap: formatKtap, json: formatJson }

/** A command-line mistake: one line on stderr, exit 2. */
class UsageError extends Error {}

/** The vitest versions kmodspec supports, from its own package.json. */
function supportedVitest(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { peerDependencies?: Record<string, string> }
    return pkg.peerDependencies?.vitest ?? '>=3'
  } catch {
    return '>=3'
  }
}

/** vitest's CLI entry, resolved from the project (where `npm install --save-dev vitest` puts it), else beside kmodspec. */
function vitestEntry(cwd: string): string {
  const supported = supportedVitest()
  for (const from of [path.join(cwd, 'package.json'), import.meta.url]) {
    let pkgFile: string
    try {
      pkgFile = createRequire(from).resolve('vitest/package.json')
    } catch {
      continue
    }
    const version = (JSON.parse(readFileSync(pkgFile, 'utf8')) as { version: string }).version
    const major = Number(version.split('.')[0])
    const minimum = Number(/>=\s*(\d+)/.exec(supported)?.[1] ?? 3)
    if (major < minimum) throw new UsageError(`vitest ${version} is installed, kmodspec supports vitest ${supported}: npm install --save-dev vitest@latest`)
    return path.join(path.dirname(pkgFile), 'vitest.mjs')
  }
  throw new UsageError(`vitest is not installed in this project: npm install --save-dev vitest (kmodspec supports vitest ${supported})`)
}

/** Every chain record the spec workers wrote. */
async function readRecords(dir: string): Promise<ChainRecord[]> {
  const records: ChainRecord[] = []
  for (const name of await readdir(dir)) {
    if (!name.endsWith('.jsonl')) continue
    for (const line of (await readFile(path.join(dir, name), 'utf8')).split('\n')) if (line !== '') records.push(JSON.parse(line) as ChainRecord)
  }
  return records
}

export interface RunIo {
  cwd: string
  stdout: { write(text: string): unknown; isTTY?: boolean }
  stderr: { write(text: string): unknown }
  /** Environment the options default from (KMODSPEC_RELEASE); default process.env. */
  env?: Record<string, string | undefined>
}

export async function main(argv: string[]): Promise<number> {
  return runSpecs(argv, { cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr })
}

/** Where each reporter writes: a file, or undefined for standard output. */
function planOutputs(reporters: ReporterName[], outputFiles: string[], cwd: string): Map<ReporterName, string | undefined> {
  const plan = new Map<ReporterName, string | undefined>(reporters.map((r) => [r, undefined]))
  const fileReporters = reporters.filter((r) => r !== 'default')
  for (const spec of outputFiles) {
    const m = /^(\w+)=(.+)$/.exec(spec)
    const name = m ? m[1] : fileReporters.length === 1 ? fileReporters[0] : undefined
    if (name === undefined) {
      throw new UsageError(
        fileReporters.length === 0
          ? `--output-file ${spec}: no file reporter to write it (add --reporter junit, ktap or json)`
          : `--output-file ${spec}: several reporters write files (${fileReporters.join(', ')}): say which, e.g. --output-file ${fileReporters[0]}=${spec}`,
      )
    }
    if (name === 'default' || !plan.has(name as ReporterName))
      throw new UsageError(`--output-file ${spec}: '${name}' is not one of the file reporters asked for (${fileReporters.join(', ') || 'none'})`)
    plan.set(name as ReporterName, path.resolve(cwd, m ? m[2]! : spec))
  }
  const toStdout = [...plan].filter(([, file]) => file === undefined).map(([name]) => name)
  if (toStdout.length > 1)
    throw new UsageError(
      `${toStdout.join(' and ')} would both print to the terminal: give the file reporters an --output-file (e.g. --output-file ${toStdout.find((r) => r !== 'default')}=report)`,
    )
  return plan
}

/** I/N with 1 ≤ I ≤ N. */
function parseShard(spec: string): string {
  const m = /^(\d+)\/(\d+)$/.exec(spec)
  if (!m || Number(m[1]) < 1 || Number(m[1]) > Number(m[2])) throw new UsageError(`--shard takes INDEX/COUNT with 1 ≤ INDEX ≤ COUNT, like 1/3 (got '${spec}')`)
  return `${Number(m[1])}/${Number(m[2])}`
}

/** The json reports named: files, or every *.json in a directory. */
async function readReports(paths: string[], cwd: string): Promise<RunReport[]> {
  if (paths.length === 0) throw new UsageError('--merge-reports needs the json reports to merge: files, or directories that hold them')
  const files: string[] = []
  for (const p of paths.map((x) => path.resolve(cwd, x))) {
    const s = await stat(p).catch(() => undefined)
    if (!s) throw new UsageError(`--merge-reports: no such file or directory: ${p}`)
    if (s.isDirectory())
      files.push(
        ...(await readdir(p))
          .filter((n) => n.endsWith('.json'))
          .sort()
          .map((n) => path.join(p, n)),
      )
    else files.push(p)
  }
  if (files.length === 0) throw new UsageError(`--merge-reports: no .json files in ${paths.join(', ')}`)
  return Promise.all(
    files.map(async (f) => {
      try {
        return parseReport(await readFile(f, 'utf8'), f)
      } catch (e) {
        throw new UsageError((e as Error).message)
      }
    }),
  )
}

/** `kmodspec run` with its directory and output streams given (for tests). */
export async function runSpecs(argv: string[], io: RunIo): Promise<number> {
  try {
    return await runOrThrow(argv, io)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    io.stderr.write(`kmodspec run: ${error.message}\n`)
    return 2
  }
}

async function runOrThrow(argv: string[], io: RunIo): Promise<number> {
  const env = io.env ?? process.env
  const dashes = argv.indexOf('--')
  const own = dashes < 0 ? argv : argv.slice(0, dashes)
  const passThrough = dashes < 0 ? [] : argv.slice(dashes + 1)
  let parsed
  try {
    parsed = parseArgs({
      args: own,
      allowPositionals: true,
      options: runOptions,
    })
  } catch (error) {
    io.stderr.write(`kmodspec run: ${(error as Error).message}\n${help}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help) {
    io.stdout.write(help)
    return 0
  }
  const reporters = [...new Set(values.reporter?.flatMap((r) => r.split(',')) ?? ['default'])]
  const unknown = reporters.find((r) => !(REPORTERS as readonly string[]).includes(r))
  if (unknown !== undefined) throw new UsageError(`unknown reporter '${unknown}': use ${REPORTERS.join(', ')} (repeat --reporter to combine them)`)
  const outputs = planOutputs(reporters as ReporterName[], values['output-file'] ?? [], io.cwd)
  const color = io.stdout.isTTY === true
  // The terminal report and what vitest said go to stdout, unless a file reporter prints there.
  const chatter = outputs.has('default') ? io.stdout : io.stderr

  const emit = async (report: RunReport): Promise<number> => {
    for (const [name, file] of outputs) {
      const text = name === 'default' ? formatReport(report, { verbose: values.verbose === true, color }) + '\n' : formatters[name](report)
      if (file === undefined) io.stdout.write(text)
      else {
        await mkdir(path.dirname(file), { recursive: true })
        await writeFile(file, text)
        const shown = path.relative(io.cwd, file)
        chatter.write(`kmodspec run: ${name} report written to ${shown === '' || shown.startsWith('..') ? file : shown}\n`)
      }
    }
    return reportPassed(report) ? 0 : 1
  }

  if (values['merge-reports']) {
    if (values.shard || values.release || values.backend) throw new UsageError('--merge-reports reads reports: it takes no --shard, --release or --backend')
    let merged: RunReport
    try {
      merged = mergeReports(await readReports(positionals, io.cwd))
    } catch (e) {
      throw e instanceof UsageError ? e : new UsageError((e as Error).message)
    }
    return emit(merged)
  }

  let backend: string
  try {
    backend = resolveBackendName(values.backend)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  let tree: ModuleTree | undefined
  try {
    tree = values.tree === undefined ? undefined : resolveTree(values.tree)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const shard = values.shard === undefined ? undefined : parseShard(values.shard)
  const releases = parseReleaseList(values.release ?? (env.KMODSPEC_RELEASE ? [env.KMODSPEC_RELEASE] : []))
  const from = values.release ? '--release' : 'KMODSPEC_RELEASE'
  for (const release of releases) {
    const needs = backend === 'sim' ? { image: false, headers: release !== EMBEDDED_RELEASE } : backend === 'qemu' ? { image: true, headers: true } : undefined
    const problem = needs && releaseProblem(release, needs)
    if (problem) throw new UsageError(`${from}: ${problem}`)
  }
  const files = positionals.length > 0 ? positionals : existsSync(path.join(io.cwd, 'specs')) ? ['specs'] : []
  if (files.length === 0) throw new UsageError('no specs/ directory here: name the spec files to run (e.g. kmodspec run my.spec.ts)')
  const vitest = vitestEntry(io.cwd)

  const on = releases.length === 0 ? '' : releases.length === 1 ? ` ${releases[0]}` : `, releases ${releases.join(', ')}`
  chatter.write(`kmodspec run: ${files.join(' ')} on the ${backend} kernel${on}${shard ? ` (shard ${shard})` : ''}\n\n`)
  const report = emptyReport(backend, shard)
  for (const release of releases.length > 0 ? releases : [undefined]) {
    const tmp = await tmpDir({ prefix: 'kmodspec-run-', unsafeCleanup: true })
    try {
      const reportFile = path.join(tmp.path, 'report.json')
      const recordDir = path.join(tmp.path, 'records')
      await mkdir(recordDir)
      // Type tests are for kmodspec's own suite: off here, with vitest's banner about them.
      const args = [
        vitest,
        'run',
        ...files,
        '--typecheck.enabled=false',
        '--reporter=json',
        `--outputFile.json=${reportFile}`,
        ...defaultTimeouts(io.cwd, passThrough),
        ...(shard ? [`--shard=${shard}`, '--passWithNoTests'] : []),
        ...(values.update ? ['--update'] : []),
        ...passThrough,
      ]
      const childEnv = {
        KMODSPEC_BACKEND: backend,
        [RECORD_DIR_ENV]: recordDir,
        FORCE_COLOR: '0',
        ...(release ? { KMODSPEC_RELEASE: release } : {}),
        ...(tree ? { KMODSPEC_TREE: tree } : {}),
      }
      const child = await execa(process.execPath, args, { cwd: io.cwd, stdout: 'pipe', stderr: 'pipe', reject: false, env: childEnv })
      const vitestReport = await readFile(reportFile, 'utf8').then(
        (t) => JSON.parse(t) as VitestJsonReport,
        () => undefined,
      )
      // The JSON reporter's own notice is noise here; anything else vitest said may matter.
      const said = [child.stdout, child.stderr]
        .map((t) => String(t ?? '').replace(/^JSON report written to .*\n?/gm, ''))
        .join('')
        .trim()
      const code = child.exitCode ?? 1
      const label = `${backend}${release ? ` ${release}` : ''}`
      if (!vitestReport) {
        chatter.write(`${said}\n\nkmodspec run: ${label}: vitest exited with ${code} and wrote no report\n`)
        return 1
      }
      if (vitestReport.testResults.length === 0 && !shard) {
        const missing = files.filter((f) => !existsSync(path.resolve(io.cwd, f)))
        throw new UsageError(
          `no spec file matched ${files.map((f) => `'${f}'`).join(' ')}${missing.length > 0 ? ` (no such file: ${missing.join(', ')})` : ''} in ${io.cwd}: name spec files that exist (vitest's include patterns apply, e.g. *.spec.ts)`,
        )
      }
      if (said !== '' && (code !== 0 || values.verbose)) chatter.write(`${said}\n\n`)
      else {
        // Progress lines of slow first-run steps (kbuild in CI) are worth seeing even when all passed.
        const progress = said.split('\n').filter((l) => /^kmodspec: KBUILD /.test(l))
        if (progress.length > 0) chatter.write(`${progress.join('\n')}\n\n`)
      }
      const records = await readRecords(recordDir)
      const failedQuietly =
        code !== 0 && vitestReport.numFailedTests === 0 && vitestReport.testResults.every((f) => !(f.assertionResults.length === 0 && f.message))
      addRun(
        report,
        release ?? records.find((r) => r.backend === backend)?.release ?? 'default',
        vitestReport,
        records,
        io.cwd,
        failedQuietly ? `vitest exited with ${code} on ${label} (see above)` : undefined,
      )
    } finally {
      await tmp.cleanup()
    }
  }
  return emit(report)
}

/**
 * vitest's 5 s default is too short for a spec's first run on a release (kbuild builds its modules,
 * a VM boots): without a vitest config of the project's own, specs get the timeouts `kmodspec init`
 * writes into one. A project's own config (or --testTimeout after --) decides otherwise.
 */
function defaultTimeouts(cwd: string, passThrough: readonly string[]): string[] {
  const own = ['vitest.config', 'vite.config'].some((base) =>
    ['ts', 'mts', 'cts', 'js', 'mjs', 'cjs'].some((ext) => existsSync(path.join(cwd, `${base}.${ext}`))),
  )
  if (own) return []
  // vitest refuses an option given twice: a timeout the user passes after -- wins.
  const given = (flag: string) => passThrough.some((a) => a === flag || a.startsWith(`${flag}=`))
  return [...(given('--testTimeout') ? [] : ['--testTimeout=120000']), ...(given('--hookTimeout') ? [] : ['--hookTimeout=300000'])]
}
