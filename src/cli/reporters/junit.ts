// JUnit XML, as CI systems read it (GitLab, Jenkins, GitHub test-report actions): a <testsuite> per spec
// file and release, a <testcase> per spec and release, <failure> with the message and the transcript.
import type { RunReport } from './model.js'
import { countReport, reportFiles } from './model.js'

// XML 1.0 allows no control characters but tab, newline and carriage return; ANSI colours go too.
const clean = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '').replace(/[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g, '\uFFFD')
const attr = (text: string) => clean(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/\n/g, '&#10;')
const body = (text: string) => clean(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const secs = (ms: number) => (ms / 1000).toFixed(3)

/**
 * The report as a JUnit XML document.
 * @example await writeFile('junit.xml', formatJunit(report))
 */
export function formatJunit(report: RunReport): string {
  const c = countReport(report)
  const total = report.specs.reduce((t, s) => t + Object.values(s.results).reduce((u, o) => u + o.durationMs, 0), 0)
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="kmodspec" tests="${c.runs + c.fileFailures}" failures="${c.failed}" errors="${c.fileFailures}" skipped="${c.skipped}" time="${secs(total)}">`,
  ]
  for (const release of report.releases) {
    for (const file of reportFiles(report)) {
      const specs = report.specs.filter((s) => s.file === file && s.results[release])
      const broken = report.fileFailures.filter((f) => f.file === file && f.release === release)
      if (specs.length === 0 && broken.length === 0) continue
      const outcomes = specs.map((s) => s.results[release]!)
      const failed = outcomes.filter((o) => o.status === 'failed').length
      const skipped = outcomes.filter((o) => o.status === 'skipped' || o.status === 'todo').length
      const time = outcomes.reduce((t, o) => t + o.durationMs, 0)
      out.push(
        `  <testsuite name="${attr(`${file} [${release}]`)}" tests="${specs.length + broken.length}" failures="${failed}" errors="${broken.length}" skipped="${skipped}" time="${secs(time)}">`,
      )
      out.push(
        '    <properties>',
        `      <property name="backend" value="${attr(report.backend)}"/>`,
        `      <property name="release" value="${attr(release)}"/>`,
        '    </properties>',
      )
      for (const f of broken) {
        out.push(`    <testcase classname="${attr(file)}" name="${attr(`${file} failed to load [${release}]`)}" time="0.000">`)
        out.push(`      <error message="${attr(f.message.split('\n')[0] ?? '')}" type="load">${body(f.message)}</error>`, '    </testcase>')
      }
      for (const spec of specs) {
        const o = spec.results[release]!
        const open = `    <testcase classname="${attr(file)}" name="${attr(`${spec.name} [${release}]`)}" time="${secs(o.durationMs)}"`
        const inner: string[] = []
        if (o.status === 'failed')
          inner.push(`      <failure message="${attr((o.failure ?? '').split('\n')[0] ?? '')}" type="failure">${body(o.failure ?? '')}</failure>`)
        if (o.status === 'skipped' || o.status === 'todo') inner.push(`      <skipped message="${o.status}"/>`)
        if (o.transcript) inner.push(`      <system-out>${body(o.transcript)}</system-out>`)
        out.push(...(inner.length === 0 ? [`${open}/>`] : [`${open}>`, ...inner, '    </testcase>']))
      }
      out.push('  </testsuite>')
    }
  }
  out.push('</testsuites>', '')
  return out.join('\n')
}
