// `kmodspec run`'s terminal report: each spec file, each spec with ✓ or ✗ (one column per release), its
// failure, and (verbose) what it ran.
import type { RunReport, SpecOutcome } from './reporters/model.js'
import { countReport, reportFiles } from './reporters/model.js'

export { trimFailure, type VitestJsonReport } from './reporters/vitest-json.js'

export interface ReportOptions {
  /** Show every spec's transcript, not only failing ones'. */
  verbose: boolean
  color: boolean
}

const indent = (text: string, by: string) =>
  text
    .split('\n')
    .map((l) => (l === '' ? l : by + l))
    .join('\n')

/** The report as lines of text; the last line sums up. One release: a list; several: a table. */
export function formatReport(report: RunReport, options: ReportOptions): string {
  const paint = (code: string, text: string) => (options.color ? `\x1b[${code}m${text}\x1b[0m` : text)
  const mark = (o: SpecOutcome | undefined) =>
    !o ? paint('2', '·') : o.status === 'passed' ? paint('32', '✓') : o.status === 'failed' ? paint('31', '✗') : paint('33', '-')
  const { releases } = report
  const matrix = releases.length > 1
  const out: string[] = []
  const nameWidth = Math.max(0, ...report.specs.map((s) => s.name.length + 4))
  for (const file of reportFiles(report)) {
    out.push(matrix ? paint('1', file.padEnd(nameWidth)) + releases.join('  ') : paint('1', file))
    for (const failure of report.fileFailures.filter((f) => f.file === file)) {
      out.push(`  ${paint('31', '✗')} the file failed to load${matrix ? ` on ${failure.release}` : ''}`, indent(failure.message, '      '))
    }
    for (const spec of report.specs.filter((s) => s.file === file)) {
      if (matrix) {
        const cells = releases.map((r) => mark(spec.results[r]) + ' '.repeat(Math.max(1, r.length + 1)))
        out.push(`  ${spec.name.padEnd(nameWidth - 2)}${cells.join('').trimEnd()}`)
      }
      for (const release of releases) {
        const o = spec.results[release]
        if (!o) continue
        const on = matrix ? ` on ${release}` : ''
        if (!matrix) out.push(`  ${mark(o)} ${spec.name}${o.status === 'passed' || o.status === 'failed' ? '' : ` (${o.status})`}`)
        if (o.status === 'failed') {
          if (matrix) out.push(`    ${paint('31', '✗')} ${spec.name}${on}`)
          out.push(indent(o.failure ?? '', '      '))
        } else if (o.status === 'passed' && options.verbose && o.transcript) {
          if (matrix) out.push(`    ${mark(o)} ${spec.name}${on}`)
          out.push(indent(o.transcript, '    '))
        }
      }
    }
  }
  for (const e of report.errors) out.push('', e.message)
  const c = countReport(report)
  const verdict =
    c.failed > 0 || c.fileFailures > 0
      ? paint('31', `${c.failed} failed${c.fileFailures > 0 ? `, ${c.fileFailures} file(s) failed to load` : ''}`)
      : report.errors.length === 0
        ? paint('32', 'all passed')
        : paint('31', 'vitest reported errors (see above)')
  const files = reportFiles(report).length
  const shard = report.shard ? ` (shard ${report.shard})` : ''
  if (matrix) {
    out.push(
      '',
      `${c.passed}/${c.runs} spec runs passed (${report.specs.length} specs × ${releases.length} releases) in ${files} file(s) on ${report.backend}${shard}: ${verdict}`,
    )
  } else {
    const kernel = releases[0] && releases[0] !== 'default' ? `${report.backend} ${releases[0]}` : report.backend
    out.push('', `${c.passed}/${c.runs} specs passed in ${files} file(s) on ${kernel}${shard}: ${verdict}`)
  }
  if (!options.verbose && c.runs > 0) out.push('(kmodspec run --verbose shows the commands each spec ran and the kernel log lines they caused)')
  return out.join('\n')
}
