import { isUnrelatedText } from '../observe/unrelated.js'

/**
 * The one normalization applied before comparing two transcripts of the same script (sim vs
 * VM, or a run vs a capture): printk timestamps, kernel addresses and %p's boot-keyed hashes differ
 * from run to run, nothing else may.
 */

/** One command of a transcript, as `kmodspec sh --json` prints it and fixtures/captures store it. */
export interface TranscriptStep {
  cmd: string
  exitCode: number
  stdout: string
  stderr: string
  dmesg: string[]
}

const TIMESTAMP = /\[ *\d+\.\d{6}\]/g
/** 64-bit kernel addresses: 0xffff..., bare ffff... words, and /proc/modules' 0x0000... column. */
const ADDRESS = /\b(?:0x)?(?:ffff[0-9a-f]{12}|0{16})\b/gi

/**
 * %p's output: the low 32 bits of siphash(pointer, a key drawn at boot), printed as 00000000xxxxxxxx.
 * The value is random per boot and the simulator cannot know it. Masked wherever it appears, so a
 * genuine value printed as %016lx with 8 leading zeros is masked too (no text tells the two apart).
 */
const HASHED_POINTER = /\b0{8}(?!0{8}\b)[0-9a-f]{8}\b/g

/** A whole `dmesg` output line: its timestamp, then the record's text. */
const DMESG_LINE = /^\[ *\d+\.\d{6}\] (.*)(?:\n|$)/gm

/**
 * Text with timestamps, kernel addresses and %p's hashed pointers replaced by fixed placeholders, and without the
 * `dmesg` lines of records the kernel logs on its own schedule (observe/unrelated.ts): whether
 * one landed in this run's log depends on the host, so it is never a difference.
 */
export function normalizeText(text: string): string {
  return text
    .replace(DMESG_LINE, (line, record: string) => (isUnrelatedText(record) ? '' : line))
    .replace(TIMESTAMP, '[TIMESTAMP]')
    .replace(ADDRESS, 'ADDRESS')
    .replace(HASHED_POINTER, 'HASHED')
}

/** A transcript step with every text normalized. */
export function normalizeStep(step: TranscriptStep): TranscriptStep {
  return {
    cmd: step.cmd,
    exitCode: step.exitCode,
    stdout: normalizeText(step.stdout),
    stderr: normalizeText(step.stderr),
    dmesg: step.dmesg.map(normalizeText),
  }
}

/**
 * Text with every given kernel release string replaced by `<release>`: used only when two
 * transcripts come from kernels of different releases, so each mention of the release is not a difference.
 */
export function normalizeRelease(text: string, releases: readonly string[]): string {
  // Longest first, so a release that is a prefix of another does not leave a tail behind.
  const sorted = [...new Set(releases)].filter(Boolean).sort((a, b) => b.length - a.length)
  return sorted.reduce((t, r) => t.split(r).join('<release>'), text)
}

/**
 * The part of a kernel failure report that is the kernel's own words, for comparing two runs: up to
 * and including the first `RIP:` line (what failed, where, with which taint), the PID masked. What
 * follows is machine state (registers, stack contents, the call trace of the insmod process) that no
 * two runs, and no simulator, share.
 * @example reportHead('BUG: ...\nCPU: 0 PID: 81 Comm: insmod ...\nRIP: 0010:f+0x1/0x10 [m]\nRSP: ...') // without the RSP line, PID: N
 */
export function reportHead(report: string): string {
  const lines = report.split('\n')
  const rip = lines.findIndex((l) => l.startsWith('RIP: '))
  return (rip >= 0 ? lines.slice(0, rip + 1) : lines)
    .join('\n')
    .replace(/\bPID: \d+/g, 'PID: N')
    .replace(/\[(\w+):\d+\]/g, '[$1:N]')
}
