// The report as JSON: what `kmodspec run --merge-reports` reads back to merge shards.
import type { RunReport } from './model.js'

/**
 * The report as pretty-printed JSON (format 'kmodspec-run-report', version 1).
 * @example await writeFile('shard-1.json', formatJson(report))
 */
export function formatJson(report: RunReport): string {
  return JSON.stringify(report, null, 2) + '\n'
}
