// Captures: what the real kernel printed for each fixture script (scripts/capture.mjs writes them).
// The project's own path appears in some outputs (modinfo's filename:); it is stored as a
// placeholder so the captures hold in any checkout.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import process from 'node:process'
import { EMBEDDED_RELEASE } from '../profile/index.js'
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
  return commands.map((c) => (c.stdout === undefined ? c : { ...c, stdout: swap(c.stdout), stderr: swap(c.stderr), dmesg: c.dmesg.map(swap) }))
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

/**
 * Where the captures of `release` live: the pinned release's in fixtures/captures (as they always were),
 * any other release's in fixtures/captures/<release>.
 * @example captureDir('/repo', '6.12.117+deb12-amd64') // '/repo/fixtures/captures/6.12.117+deb12-amd64'
 */
export function captureDir(root: string, release: string): string {
  return release === EMBEDDED_RELEASE ? join(root, 'fixtures', 'captures') : join(root, 'fixtures', 'captures', release)
}

/**
 * The capture files of `release`, sorted (none when it has no capture directory).
 * @example captureFiles('/repo', '6.1.0-56-amd64') // ['builtin-modules.json', 'compressed-modules.json', ...]
 */
export function captureFiles(root: string, release: string): string[] {
  const dir = captureDir(root, release)
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .sort()
    : []
}

/** The releases with a capture set: the pinned one, then every fixtures/captures/<release> holding captures. */
export function captureReleases(root: string): string[] {
  const dir = join(root, 'fixtures', 'captures')
  const others = existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory() && readdirSync(join(dir, e.name)).some((f) => f.endsWith('.json')))
        .map((e) => e.name)
    : []
  return [EMBEDDED_RELEASE, ...others.sort()]
}

/**
 * A fixture script as it runs on `release`: the scripts name the pinned release's /lib/modules directory
 * (the script language has no variables), so on another release that name becomes the release's own.
 * @example scriptForRelease('depmod -b /lib/modules/6.1.0-56-amd64', '6.12.117+deb12-amd64') // 'depmod -b /lib/modules/6.12.117+deb12-amd64'
 */
export function scriptForRelease(text: string, release: string): string {
  return text.split(EMBEDDED_RELEASE).join(release)
}

/**
 * Which capture sets a test run replays: `KMODSPEC_CAPTURE_RELEASES` names them ('all', or a comma list);
 * unset, only the pinned release's (`npm test`), the others being `npm run test:matrix`'s (it installs their kernels).
 * @example capturedReleasesToRun('/repo', {}) // { run: ['6.1.0-56-amd64'], skipped: ['6.1.0-56-rt-amd64', '6.12.117+deb12-amd64'] }
 */
export function capturedReleasesToRun(root: string, env: Record<string, string | undefined> = process.env): { run: string[]; skipped: string[] } {
  const all = captureReleases(root)
  const wanted = env.KMODSPEC_CAPTURE_RELEASES?.trim()
  const names = wanted === 'all' ? all : wanted ? wanted.split(',').map((r) => r.trim()) : [EMBEDDED_RELEASE]
  const unknown = names.filter((r) => !all.includes(r))
  if (unknown.length > 0)
    throw new Error(`KMODSPEC_CAPTURE_RELEASES names ${unknown.join(', ')}, which has no capture set: use 'all' or some of ${all.join(', ')}`)
  return { run: all.filter((r) => names.includes(r)), skipped: all.filter((r) => !names.includes(r)) }
}
