import path from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'

/** Where a step was queued: the spec's file and line. */
export interface CallSite {
  /** Path relative to the working directory when inside it, else absolute. */
  file: string
  line: number
  column: number
  /** The stack frames from the spec's frame on, for error stacks that point at the spec. */
  frames: string[]
}

// src/ (or dist/) of kmodspec: frames in our own dsl/ and vitest/ files are not the user's.
const ownRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const ownDirs = ['dsl', 'vitest'].map((d) => path.join(ownRoot, d) + path.sep)

function frameFile(frame: string): { file: string; line: number; column: number } | undefined {
  const m = /\(?((?:file:\/\/)?[^()\s]+?):(\d+):(\d+)\)?$/.exec(frame.trim())
  if (!m) return undefined
  const file = m[1]!.startsWith('file://') ? fileURLToPath(m[1]!) : m[1]!
  return { file, line: Number(m[2]), column: Number(m[3]) }
}

function isUserFrame(file: string): boolean {
  if (file.startsWith('node:') || file.includes(`${path.sep}node_modules${path.sep}`)) return false
  const own = ownDirs.some((dir) => file.startsWith(dir))
  return !own || /\.test(-d)?\.[cm]?[jt]s$/.test(file)
}

/** The first frame of `error`'s stack outside kmodspec's own chain code (call when a step is queued). */
export function captureCallSite(error: Error = new Error()): CallSite | undefined {
  const frames = (error.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l))
  for (const [i, frame] of frames.entries()) {
    const where = frameFile(frame)
    if (!where || !path.isAbsolute(where.file) || !isUserFrame(where.file)) continue
    const rel = path.relative(process.cwd(), where.file)
    const file = rel.startsWith('..') ? where.file : rel
    return { file, line: where.line, column: where.column, frames: frames.slice(i) }
  }
  return undefined
}

export function formatCallSite(site: CallSite | undefined): string {
  return site ? `${site.file}:${site.line}:${site.column}` : '(unknown)'
}
