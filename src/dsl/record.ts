// What each chain ran, for `kmodspec run`'s report: one JSON line per chain in KMODSPEC_RECORD_DIR.
import { appendFileSync } from 'node:fs'
import path from 'node:path'
import process from 'node:process'
import { threadId } from 'node:worker_threads'
import type { TranscriptEntry } from './transcript.js'

/** The environment variable `kmodspec run` sets to a directory for chain records. */
export const RECORD_DIR_ENV = 'KMODSPEC_RECORD_DIR'

/** One chain's run as `kmodspec run` reads it back. */
export interface ChainRecord {
  /** Absolute path of the spec file, when known. */
  file: string | undefined
  /** The test's name and the names of the describe blocks around it, outermost first. */
  test: string[] | undefined
  backend: string
  release: string
  ok: boolean
  /** Commands the chain ran, probes left out. */
  transcript: TranscriptEntry[]
  /** Path prefixes to shorten when printed. */
  replace: Array<[string, string]>
}

interface Task {
  name?: string
  filepath?: string
  suite?: Task
  file?: Task
}

/** The vitest test running now, read from vitest's worker state (no import of vitest: the DSL runs without it). */
function currentTest(): { file: string | undefined; test: string[] | undefined } {
  const current = (globalThis as { __vitest_worker__?: { current?: Task } }).__vitest_worker__?.current
  if (!current || current.filepath !== undefined) return { file: current?.filepath, test: undefined }
  const names: string[] = []
  for (let t: Task | undefined = current; t && t.filepath === undefined; t = t.suite) if (t.name) names.unshift(t.name)
  return { file: current.file?.filepath, test: names }
}

/** Append this chain's record when `kmodspec run` asked for them; never fails the spec. */
export function recordChain(record: Omit<ChainRecord, 'file' | 'test'>, fallbackFile: string | undefined): void {
  const dir = process.env[RECORD_DIR_ENV]
  if (!dir) return
  const where = currentTest()
  const line: ChainRecord = {
    file: where.file ?? (fallbackFile ? path.resolve(fallbackFile) : undefined),
    test: where.test,
    ...record,
    transcript: record.transcript.filter((e) => !e.probe),
  }
  try {
    appendFileSync(path.join(dir, `${process.pid}-${threadId}.jsonl`), JSON.stringify(line) + '\n')
  } catch {
    // The report is a nicety: a spec passes or fails on its own.
  }
}
