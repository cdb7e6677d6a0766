// Captures: what the real kernel printed for each fixture script (scripts/capture.mjs writes them).
// The project's own path appears in some outputs (modinfo's filename:); it is stored as a
// placeholder so the captures hold in any checkout.
import { readFileSync } from 'node:fs'
import type { TranscriptStep } from './normalize.js'

/** Stands for the project root (the directory the scripts ran from) in stored captures. */
export const PROJECT_PLACEHOLDER = '<project>'

export interface Capture {
  script: string
  release: string
  qemu?: string
  backend?: string
  commands: TranscriptStep[]
}

/** Replace every occurrence of `from` with `to` in a capture's texts. */
function mapTexts(commands: TranscriptStep[], from: string, to: string): TranscriptStep[] {
  const swap = (text: string) => text.split(from).join(to)
  // A command the kernel failed under is stored as {cmd, error}: it has no output to map.
  return commands.map((c) =>
    c.stdout === undefined ? c : { ...c, stdout: swap(c.stdout), stderr: swap(c.stderr), dmesg: c.dmesg.map(swap) },
  )
}

/** A capture as stored, with the project root replaced by {@link PROJECT_PLACEHOLDER}. */
export function toStored(capture: Capture, root: string): Capture {
  return { ...capture, commands: mapTexts(capture.commands, root, PROJECT_PLACEHOLDER) }
}

/** Read a stored capture, with the placeholder turned back into this checkout's root. */
export function readCapture(file: string, root: string): Capture {
  const capture = JSON.parse(readFileSync(file, 'utf8')) as Capture
  if (!Array.isArray(capture.commands)) throw new Error(`${file} is not a capture (no commands): rerun node scripts/capture.mjs`)
  return { ...capture, commands: mapTexts(capture.commands, PROJECT_PLACEHOLDER, root) }
}
