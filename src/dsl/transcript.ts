import type { ExecResult } from '../backends/types.js'
import { clip, shellWord } from './format.js'

/** One command the chain ran, with what it printed and the kernel log lines it caused. */
export interface TranscriptEntry extends ExecResult {
  /** 1-based index of the step that ran it. */
  step: number
  /**
   * True for commands the DSL ran to look at the kernel (cat /proc/modules, ls holders...).
   * Probes stay in the structured transcript but the printed one shows only the failing step's.
   */
  probe: boolean
  /** Set when the kernel or the VM failed during the command (oops, panic, timeout...): no exit code then. */
  failure?: string
}

export interface TranscriptFormat {
  /** The step that failed: its commands are marked with `>`. */
  failedStep?: number
  /** Show the failing step's probes (for a failed expectation: what it looked at). */
  showProbes?: boolean
  /** Replace these path prefixes (e.g. the temp dir of defineModule) with a short name. */
  replace?: Array<[from: string, to: string]>
}

/** How a transcript marks a record the kernel logged on its own during a command (observe/unrelated.ts). */
export const UNRELATED_MARK = '(kernel, not caused by this step)'

function nonEmptyLines(text: string): string[] {
  const lines = text.split('\n')
  while (lines.length > 0 && lines.at(-1) === '') lines.pop()
  return lines
}

/**
 * The transcript as a terminal-like listing: each command with its exit code, then its
 * output and the kernel log lines it caused, indented under it.
 */
export function formatTranscript(entries: readonly TranscriptEntry[], format: TranscriptFormat = {}): string {
  // A command the kernel failed under is always shown, even a probe: it is where things went wrong.
  const shown = entries.filter((e) => !e.probe || e.failure !== undefined || (format.showProbes === true && e.step === format.failedStep))
  if (shown.length === 0) return '  (no commands ran)'
  const shorten = (text: string) => (format.replace ?? []).reduce((t, [from, to]) => t.split(from).join(to), text)
  const commands = shown.map((e) => clip(shorten(e.argv.map(shellWord).join(' '))))
  const width = Math.max(...commands.map((c) => c.length)) + 2
  const out: string[] = []
  shown.forEach((entry, i) => {
    const mark = entry.step === format.failedStep ? '> ' : '  '
    const status = entry.failure ?? `exit ${entry.exitCode}`
    out.push(`${mark}$ ${commands[i]!.padEnd(width)}${status}${entry.probe ? '  (probe)' : ''}`)
    for (const line of [...nonEmptyLines(entry.stdout), ...nonEmptyLines(entry.stderr), ...entry.dmesg.map((r) => r.text)]) {
      out.push(`    ${clip(shorten(line))}`.trimEnd())
    }
    for (const r of entry.unrelated ?? []) out.push(`    ${shorten(r.text)}  ${UNRELATED_MARK}`)
    for (const note of entry.notes ?? []) out.push(`    (simulator note) ${shorten(note)}`)
  })
  return out.join('\n')
}
