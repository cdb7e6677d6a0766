// `kmodspec run`: run behaviour specs through vitest on a chosen backend and sum them up.
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import process from 'node:process'
import { parseArgs } from 'node:util'
import { execa } from 'execa'
import { dir as tmpDir } from 'tmp-promise'
import { resolveBackendName } from '../backends/index.js'
import { RECORD_DIR_ENV, type ChainRecord } from '../dsl/record.js'
import { formatReport, type VitestJsonReport } from './run-report.js'

const help = `usage: kmodspec run [--backend sim|qemu] [--verbose] [--update] [FILES...]

Runs behaviour specs (default: specs/) through vitest against a kernel and prints each spec
with ✓ or ✗, why a failing one failed, and one line with how many passed. Exits non-zero
when a spec fails.

options:
  --backend B    sim (default; else KMODSPEC_BACKEND) or qemu: sets KMODSPEC_BACKEND for the specs
  -v, --verbose  also show what each passing spec ran: commands, exit codes, kernel log lines
  -u, --update   update inline snapshots
  -h, --help     this text

Any other vitest option can follow '--', e.g. kmodspec run -- --shard=1/2.
`

/** vitest's CLI entry, from the vitest this package resolves. */
function vitestEntry(): string {
  const require = createRequire(import.meta.url)
  return path.join(path.dirname(require.resolve('vitest/package.json')), 'vitest.mjs')
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
}

export async function main(argv: string[]): Promise<number> {
  return runSpecs(argv, { cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr })
}

/** `kmodspec run` with its directory and output streams given (for tests). */
export async function runSpecs(argv: string[], io: RunIo): Promise<number> {
  const dashes = argv.indexOf('--')
  const own = dashes < 0 ? argv : argv.slice(0, dashes)
  const passThrough = dashes < 0 ? [] : argv.slice(dashes + 1)
  let parsed
  try {
    parsed = parseArgs({ args: own, allowPositionals: true, options: { backend: { type: 'string' }, verbose: { type: 'boolean', short: 'v' }, update: { type: 'boolean', short: 'u' }, help: { type: 'boolean', short: 'h' } } })
  } catch (error) {
    io.stderr.write(`kmodspec run: ${(error as Error).message}\n${help}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help) {
    io.stdout.write(help)
    return 0
  }
  let backend: string
  try {
    backend = resolveBackendName(values.backend)
  } catch (error) {
    io.stderr.write(`kmodspec run: ${(error as Error).message}\n`)
    return 2
  }
  const files = positionals.length > 0 ? positionals : existsSync(path.join(io.cwd, 'specs')) ? ['specs'] : []
  if (files.length === 0) {
    io.stderr.write('kmodspec run: no specs/ directory here: name the spec files to run (e.g. kmodspec run my.spec.ts)\n')
    return 2
  }
  const tmp = await tmpDir({ prefix: 'kmodspec-run-', unsafeCleanup: true })
  try {
    const reportFile = path.join(tmp.path, 'report.json')
    const recordDir = path.join(tmp.path, 'records')
    await mkdir(recordDir)
    // Type tests are for kmodspec's own suite: off here, with vitest's banner about them.
    const args = [vitestEntry(), 'run', ...files, '--typecheck.enabled=false', '--reporter=json', `--outputFile.json=${reportFile}`, ...(values.update ? ['--update'] : []), ...passThrough]
    io.stdout.write(`kmodspec run: ${files.join(' ')} on the ${backend} kernel\n\n`)
    const child = await execa(process.execPath, args, { cwd: io.cwd, stdout: 'pipe', stderr: 'pipe', reject: false, env: { KMODSPEC_BACKEND: backend, [RECORD_DIR_ENV]: recordDir, FORCE_COLOR: '0' } })
    const report = await readFile(reportFile, 'utf8').then((t) => JSON.parse(t) as VitestJsonReport, () => undefined)
    // The JSON reporter's own notice is noise here; anything else vitest said may matter.
    const said = [child.stdout, child.stderr].map((t) => String(t ?? '').replace(/^JSON report written to .*\n?/gm, '')).join('').trim()
    const code = child.exitCode ?? 1
    if (!report) {
      io.stdout.write(`${said}\n\nkmodspec run: ${backend}: vitest exited with ${code} and wrote no report\n`)
      return 1
    }
    if (said !== '' && (code !== 0 || values.verbose)) io.stdout.write(`${said}\n\n`)
    const records = await readRecords(recordDir)
    io.stdout.write(formatReport(report, records, { backend, verbose: values.verbose === true, cwd: io.cwd, color: io.stdout.isTTY === true }) + '\n')
    return code === 0 ? 0 : 1
  } finally {
    await tmp.cleanup()
  }
}
