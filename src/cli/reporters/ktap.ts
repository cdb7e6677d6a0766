// KTAP version 1, the kernel's own test-output format (Documentation/dev-tools/ktap.rst), read by KernelCI
// and kunit tooling: one subtest block per release, one result line per spec, the failure and its transcript
// as '#' diagnostic lines just before the spec's result line.
import type { RunReport } from './model.js'

// A description cannot hold '#' (it starts the directive) nor a line break.
const describe = (text: string) => text.replace(/#/g, '_').replace(/\s*\n\s*/g, ' ')
// Colours go; other control characters (a stray \r would split a line for a KTAP reader) become U+FFFD.
const diagnostics = (text: string, pad: string) =>
  text
    .replace(/\x1b\[[0-9;]*m/g, '')
    .replace(/[\x00-\x08\x0B-\x1F\x7F]/g, '\uFFFD')
    .split('\n')
    .map((l) => `${pad}# ${l}`.trimEnd())

/**
 * The report as KTAP version 1: the top level has one test per release, each a block of subtests
 * (one per spec, 'file: name'); a release fails when any of its specs or spec files failed.
 * @example process.stdout.write(formatKtap(report))
 */
export function formatKtap(report: RunReport): string {
  const out = ['KTAP version 1', `# kmodspec run on ${report.backend}${report.shard ? `, shard ${report.shard}` : ''}`, `1..${report.releases.length}`]
  report.releases.forEach((release, r) => {
    const pad = '  '
    const specs = report.specs.filter((s) => s.results[release])
    const broken = report.fileFailures.filter((f) => f.release === release)
    out.push(`${pad}KTAP version 1`, `${pad}# Subtest: ${describe(release)}`, `${pad}1..${specs.length + broken.length}`)
    let n = 0
    for (const f of broken) {
      out.push(...diagnostics(f.message, pad), `${pad}not ok ${++n} ${describe(`${f.file}: failed to load`)} # ERROR the spec file did not load`)
    }
    for (const spec of specs) {
      const o = spec.results[release]!
      const name = describe(`${spec.file}: ${spec.name}`)
      if (o.status === 'failed') out.push(...diagnostics(o.failure ?? '', pad), `${pad}not ok ${++n} ${name}`)
      else if (o.status === 'passed') out.push(`${pad}ok ${++n} ${name}`)
      else out.push(`${pad}ok ${++n} ${name} # SKIP ${o.status}`)
    }
    const failed = broken.length > 0 || specs.some((s) => s.results[release]!.status === 'failed')
    out.push(`${failed ? 'not ok' : 'ok'} ${r + 1} ${describe(release)}`)
  })
  return out.join('\n') + '\n'
}
