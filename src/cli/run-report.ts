// `kmodspec run`'s report: each spec file, each spec with ✓ or ✗, its failure, and (verbose) what it ran.
import path from 'node:path'
import { formatTranscript } from '../dsl/transcript.js'
import type { ChainRecord } from '../dsl/record.js'

/** The parts of vitest's JSON reporter output the report reads. */
export interface VitestJsonReport {
  numTotalTests: number
  numPassedTests: number
  numFailedTests: number
  numTotalTestSuites: number
  numFailedTestSuites: number
  success: boolean
  testResults: Array<{
    name: string
    status: string
    message: string
    assertionResults: Array<{ ancestorTitles: string[]; title: string; status: string; failureMessages: string[] }>
  }>
}

export interface ReportOptions {
  backend: string
  /** Show every spec's transcript, not only failing ones'. */
  verbose: boolean
  /** Paths are printed relative to this directory. */
  cwd: string
  color: boolean
}

const indent = (text: string, by: string) => text.split('\n').map((l) => (l === '' ? l : by + l)).join('\n')

/** An error as vitest reported it, without the stack frames inside node_modules and node itself. */
export function trimFailure(message: string): string {
  // KmodspecError's message starts with its own header; its class name adds nothing.
  const lines = message.replace(/^KmodspecError: /, '').split('\n')
  const frames = lines.filter((l) => /^\s+at /.test(l))
  const userFrame = frames.find((l) => !/node_modules|node:|\(<anonymous>\)/.test(l))
  const body = lines.filter((l) => !/^\s+at /.test(l))
  while (body.length > 0 && body.at(-1)!.trim() === '') body.pop()
  // A KmodspecError already names its spec line (At:); other errors get their first user frame.
  if (userFrame && !body.some((l) => l.startsWith('At: '))) body.push(userFrame.trim())
  return body.join('\n')
}

/** The report as lines of text; the last line sums up. */
export function formatReport(report: VitestJsonReport, records: ChainRecord[], options: ReportOptions): string {
  const paint = (code: string, text: string) => (options.color ? `\x1b[${code}m${text}\x1b[0m` : text)
  const rel = (file: string) => path.relative(options.cwd, file) || file
  const out: string[] = []
  const release = records.find((r) => r.backend === options.backend)?.release
  for (const file of [...report.testResults].sort((a, b) => a.name.localeCompare(b.name))) {
    out.push(paint('1', rel(file.name)))
    if (file.assertionResults.length === 0 && file.message) {
      out.push(`  ${paint('31', '✗')} the file failed to load`, indent(trimFailure(file.message), '      '))
    }
    for (const spec of file.assertionResults) {
      const name = [...spec.ancestorTitles, spec.title].join(' › ')
      const passed = spec.status === 'passed'
      const mark = passed ? paint('32', '✓') : spec.status === 'failed' ? paint('31', '✗') : paint('33', '-')
      out.push(`  ${mark} ${name}${passed || spec.status === 'failed' ? '' : ` (${spec.status})`}`)
      if (spec.status === 'failed') {
        for (const message of spec.failureMessages) out.push(indent(trimFailure(message), '      '))
      } else if (passed && options.verbose) {
        const mine = records.filter((r) => r.file === file.name && r.test !== undefined && r.test.join('\0') === [...spec.ancestorTitles, spec.title].join('\0'))
        for (const record of mine) out.push(indent(formatTranscript(record.transcript, { replace: record.replace }), '    '))
      }
    }
  }
  const failedFiles = report.testResults.filter((f) => f.assertionResults.length === 0 && f.message).length
  const verdict =
    report.numFailedTests > 0 || failedFiles > 0
      ? paint('31', `${report.numFailedTests} failed${failedFiles > 0 ? `, ${failedFiles} file(s) failed to load` : ''}`)
      : report.success ? paint('32', 'all passed') : paint('31', 'vitest reported errors (see above)')
  const kernel = release ? `${options.backend} ${release}` : options.backend
  out.push('', `${report.numPassedTests}/${report.numTotalTests} specs passed in ${report.testResults.length} file(s) on ${kernel}: ${verdict}`)
  if (!options.verbose && report.numTotalTests > 0) out.push('(kmodspec run --verbose shows the commands each spec ran and the kernel log lines they caused)')
  return out.join('\n')
}
