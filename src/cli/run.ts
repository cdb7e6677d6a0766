// `kmodspec run`: run behaviour specs through vitest on a chosen backend and sum them up.
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import process from 'node:process'
import { parseArgs } from 'node:util'
import { execa } from 'execa'
import { dir as tmpDir } from 'tmp-promise'
import { resolveBackendName } from '../backends/index.js'

const help = `usage: kmodspec run [--backend sim|qemu] [--update] [FILES...]

Runs behaviour specs (default: specs/) through vitest against a kernel, then prints one line
with how many passed. Exits non-zero when a spec fails.

options:
  --backend B   sim (default; else KMODSPEC_BACKEND) or qemu: sets KMODSPEC_BACKEND for the specs
  -u, --update  update inline snapshots
  -h, --help    this text

Any other vitest option can follow '--', e.g. kmodspec run -- --shard=1/2.
`

interface JsonReport { numTotalTests: number; numPassedTests: number; numFailedTests: number; numPendingTests: number; numTotalTestSuites: number; numFailedTestSuites: number }

/** vitest's CLI entry, from the vitest this package resolves. */
function vitestEntry(): string {
  const require = createRequire(import.meta.url)
  return path.join(path.dirname(require.resolve('vitest/package.json')), 'vitest.mjs')
}

export async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { backend: { type: 'string' }, update: { type: 'boolean', short: 'u' }, help: { type: 'boolean', short: 'h' } } })
  } catch (error) {
    process.stderr.write(`kmodspec run: ${(error as Error).message}\n${help}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(help)
    return 0
  }
  let backend: string
  try {
    backend = resolveBackendName(values.backend)
  } catch (error) {
    process.stderr.write(`kmodspec run: ${(error as Error).message}\n`)
    return 2
  }
  const files = positionals.length > 0 ? positionals : existsSync('specs') ? ['specs'] : []
  if (files.length === 0) {
    process.stderr.write('kmodspec run: no specs/ directory here: name the spec files to run (e.g. kmodspec run my.spec.ts)\n')
    return 2
  }
  const tmp = await tmpDir({ prefix: 'kmodspec-run-', unsafeCleanup: true })
  try {
    const reportFile = path.join(tmp.path, 'report.json')
    const args = [vitestEntry(), 'run', ...files, '--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`, ...(values.update ? ['--update'] : [])]
    process.stdout.write(`kmodspec run: ${files.join(' ')} on the ${backend} kernel\n`)
    const child = await execa(process.execPath, args, { stdio: 'inherit', reject: false, env: { KMODSPEC_BACKEND: backend } })
    const report = await readFile(reportFile, 'utf8').then((t) => JSON.parse(t) as JsonReport, () => undefined)
    const code = child.exitCode ?? 1
    if (report) {
      const verdict = code === 0 ? 'all passed' : report.numFailedTests > 0 ? `${report.numFailedTests} failed` : `${report.numFailedTestSuites} spec file(s) failed to run (see above)`
      process.stdout.write(`\nkmodspec run: ${backend}: ${report.numPassedTests}/${report.numTotalTests} specs passed in ${report.numTotalTestSuites} files, ${verdict}\n`)
    } else {
      process.stdout.write(`\nkmodspec run: ${backend}: vitest exited with ${code} and wrote no report\n`)
    }
    return code === 0 ? 0 : 1
  } finally {
    await tmp.cleanup()
  }
}
