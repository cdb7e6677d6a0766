// One run of `kmodspec run` as data: each spec (file + name) with its outcome on each release. Every reporter
// (terminal, JUnit, KTAP, JSON) prints this, and shards' JSON reports merge back into it.
import path from 'node:path'
import { formatTranscript } from '../../dsl/transcript.js'
import type { ChainRecord } from '../../dsl/record.js'
import { trimFailure, type VitestJsonReport } from './vitest-json.js'

export type SpecStatus = 'passed' | 'failed' | 'skipped' | 'todo'

/** One spec on one release. */
export interface SpecOutcome {
  status: SpecStatus
  durationMs: number
  /** Why it failed: vitest's messages without node's and node_modules' stack frames. */
  failure?: string
  /** What its chains ran (commands, exit codes, kernel log lines), as the terminal shows it. */
  transcript?: string
}

/** A spec: one row of the report, one column per release. */
export interface SpecRow {
  /** Relative to the directory kmodspec ran in. */
  file: string
  /** describe titles and the test's title, joined by ' › '. */
  name: string
  results: Record<string, SpecOutcome>
}

/** A spec file that failed before any spec in it ran (syntax error, import error). */
export interface FileFailure {
  file: string
  release: string
  message: string
}

/** The whole run; `kmodspec run --reporter json` writes it, `--merge-reports` reads it back. */
export interface RunReport {
  format: 'kmodspec-run-report'
  version: 1
  backend: string
  /** Column order. */
  releases: string[]
  /** 'i/n' when the run was one shard; a merged report has none. */
  shard?: string
  specs: SpecRow[]
  fileFailures: FileFailure[]
  /** vitest errors that belong to no spec (unhandled rejections and the like), per release. */
  errors: Array<{ release: string; message: string }>
}

/** An empty report for this backend. */
export function emptyReport(backend: string, shard?: string): RunReport {
  return { format: 'kmodspec-run-report', version: 1, backend, releases: [], ...(shard ? { shard } : {}), specs: [], fileFailures: [], errors: [] }
}

const statusOf = (s: string): SpecStatus => (s === 'passed' || s === 'failed' || s === 'todo' ? s : 'skipped')

/**
 * Add one vitest run (one release) to the report, with the transcripts of the chains each spec ran.
 * @example addRun(report, '6.1.0-56-amd64', vitestJson, records, process.cwd())
 */
export function addRun(report: RunReport, release: string, vitest: VitestJsonReport, records: ChainRecord[], cwd: string, extraError?: string): void {
  if (!report.releases.includes(release)) report.releases.push(release)
  const rel = (file: string) => path.relative(cwd, file) || file
  for (const file of vitest.testResults) {
    if (file.assertionResults.length === 0 && file.message) report.fileFailures.push({ file: rel(file.name), release, message: trimFailure(file.message) })
    for (const spec of file.assertionResults) {
      const titles = [...spec.ancestorTitles, spec.title]
      const name = titles.join(' › ')
      let row = report.specs.find((r) => r.file === rel(file.name) && r.name === name)
      if (!row) report.specs.push((row = { file: rel(file.name), name, results: {} }))
      const mine = records.filter((r) => r.file === file.name && r.test !== undefined && r.test.join('\0') === titles.join('\0'))
      const outcome: SpecOutcome = { status: statusOf(spec.status), durationMs: Math.round(spec.duration ?? 0) }
      if (outcome.status === 'failed') outcome.failure = spec.failureMessages.map(trimFailure).join('\n')
      if (mine.length > 0) outcome.transcript = mine.map((r) => formatTranscript(r.transcript, { replace: r.replace })).join('\n')
      row.results[release] = outcome
    }
  }
  if (extraError) report.errors.push({ release, message: extraError })
  report.specs.sort((a, b) => a.file.localeCompare(b.file))
}

/** Counts over every spec and release. */
export function countReport(report: RunReport): { runs: number; passed: number; failed: number; skipped: number; fileFailures: number } {
  const outcomes = report.specs.flatMap((s) => Object.values(s.results))
  return {
    runs: outcomes.length,
    passed: outcomes.filter((o) => o.status === 'passed').length,
    failed: outcomes.filter((o) => o.status === 'failed').length,
    skipped: outcomes.filter((o) => o.status === 'skipped' || o.status === 'todo').length,
    fileFailures: report.fileFailures.length,
  }
}

/** True when nothing failed: no spec, no file, no stray vitest error. */
export function reportPassed(report: RunReport): boolean {
  const c = countReport(report)
  return c.failed === 0 && c.fileFailures === 0 && report.errors.length === 0
}

/** Spec files of the report, in order. */
export function reportFiles(report: RunReport): string[] {
  return [...new Set([...report.specs.map((s) => s.file), ...report.fileFailures.map((f) => f.file)])].sort()
}

/** A report read from a file, checked enough to say which file is not one. */
export function parseReport(text: string, where: string): RunReport {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    throw new Error(`${where} is not JSON: give the files 'kmodspec run --reporter json --output-file F' wrote`)
  }
  const r = data as Partial<RunReport>
  if (r.format !== 'kmodspec-run-report' || r.version !== 1 || !Array.isArray(r.specs) || !Array.isArray(r.releases)) {
    throw new Error(`${where} is not a kmodspec run report (version 1): give the files 'kmodspec run --reporter json --output-file F' wrote`)
  }
  return { fileFailures: [], errors: [], ...r } as RunReport
}

/**
 * Shards' reports as one: releases in first-seen order, specs by file and name. Reports of
 * different backends are refused (their results are not the same thing).
 * @example mergeReports([shard1, shard2]).specs.length
 */
export function mergeReports(reports: RunReport[]): RunReport {
  const backends = [...new Set(reports.map((r) => r.backend))]
  if (backends.length > 1) throw new Error(`the reports are of different backends (${backends.join(', ')}): merge each backend's reports apart`)
  const out = emptyReport(backends[0] ?? 'sim')
  for (const r of reports) {
    for (const release of r.releases) if (!out.releases.includes(release)) out.releases.push(release)
    for (const spec of r.specs) {
      const row = out.specs.find((s) => s.file === spec.file && s.name === spec.name)
      if (row) Object.assign(row.results, spec.results)
      else out.specs.push({ ...spec, results: { ...spec.results } })
    }
    out.fileFailures.push(...r.fileFailures)
    out.errors.push(...r.errors)
  }
  out.specs.sort((a, b) => a.file.localeCompare(b.file))
  return out
}
