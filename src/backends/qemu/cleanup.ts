import { rmSync } from 'node:fs'
import process from 'node:process'

/** Something to tear down synchronously when the process ends or is interrupted. */
export interface Live {
  kill(): void
  dir?: string
}

const live = new Set<Live>()
let installed = false

function teardownAll(): void {
  for (const l of live) {
    try {
      l.kill()
    } catch {}
    if (l.dir) rmSync(l.dir, { recursive: true, force: true })
  }
  live.clear()
}

function onSignal(signal: NodeJS.Signals): void {
  teardownAll()
  process.removeListener('SIGINT', onSignal)
  process.removeListener('SIGTERM', onSignal)
  // Re-raise so the process ends with the signal's usual status.
  process.kill(process.pid, signal)
}

/** Registers a VM (process + temp dir) to be torn down on exit, SIGINT or SIGTERM. Handlers are installed once. */
export function track(l: Live): () => void {
  if (!installed) {
    installed = true
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    process.on('exit', teardownAll)
  }
  live.add(l)
  return () => live.delete(l)
}
