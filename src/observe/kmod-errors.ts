import type { ExecResult } from '../contract/backend.js'
import { errno as errnos, errnoFromText } from '../contract/errno.js'
import { invalidParams, unknownSymbols, vermagicMismatch, versionMismatches } from './kernel-log.js'

/** What went wrong with a command, in words that mean the same on every kernel. */
export type ErrorKind =
  | 'unknown-symbol'
  | 'symbol-version'
  | 'in-use'
  | 'not-loaded'
  | 'already-loaded'
  | 'not-found'
  | 'invalid-format'
  | 'vermagic'
  | 'invalid-params'
  | 'init-failed'
  | 'not-permitted'
  | 'builtin'
  | 'failed'

export const ERROR_KINDS: readonly ErrorKind[] = [
  'unknown-symbol',
  'symbol-version',
  'in-use',
  'not-loaded',
  'already-loaded',
  'not-found',
  'invalid-format',
  'vermagic',
  'invalid-params',
  'init-failed',
  'not-permitted',
  'builtin',
  'failed',
]

/** A failure of a kmod tool, classified from what it and the kernel printed. */
export interface ObservedError {
  kind: ErrorKind
  /** The module the message names, when it names one. */
  module?: string
  /** unknown-symbol: the symbols the kernel could not resolve; symbol-version: the one with a bad CRC. */
  symbols?: string[]
  /** in-use: the holders the tool listed (empty when it only said "in use"). */
  by?: string[]
  /** init-failed: the negative errno the load returned. */
  errno?: number
  /** invalid-params: the parameters the kernel refused. */
  params?: string[]
  /** The tool's error line that decided the kind. */
  line: string
}

/** A more precise kind also satisfies the general one: a vermagic mismatch is an invalid format. */
const PARENT: Partial<Record<ErrorKind, ErrorKind>> = { vermagic: 'invalid-format' }

/** True when an observed kind satisfies an expected one. */
export function kindSatisfies(observed: ErrorKind, expected: ErrorKind): boolean {
  return observed === expected || PARENT[observed] === expected
}

function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => /^\S+: (ERROR|FATAL|WARNING): /.test(line))
}

/**
 * Classify a failed command from its stderr and the kernel log lines it caused
 * (kmod 30's texts: tools/{insmod,rmmod,modprobe,modinfo}.c). Undefined when it succeeded.
 */
export function classifyFailure(result: Pick<ExecResult, 'exitCode' | 'stderr' | 'dmesg'>): ObservedError | undefined {
  if (result.exitCode === 0) return undefined
  const lines = errorLines(result.stderr)
  const line = lines[0] ?? result.stderr.split('\n').find((l) => l.trim() !== '') ?? `exit ${result.exitCode}`
  for (const text of lines) {
    const found = classifyLine(text, result.dmesg)
    if (found) return { ...found, line: text }
  }
  return { kind: 'failed', line }
}

function classifyLine(line: string, dmesg: ExecResult['dmesg']): Omit<ObservedError, 'line'> | undefined {
  let m: RegExpExecArray | null
  if ((m = /Module (\S+) is builtin\.$/.exec(line))) return { kind: 'builtin', module: m[1] }
  // a /sys/module directory without refcnt: a built-in module the release's modules.builtin does not name
  if (/: Module unloading is not supported$/.test(line)) return { kind: 'builtin' }
  if ((m = /Module (\S+) is in use by: (.*)$/.exec(line))) return { kind: 'in-use', module: m[1], by: m[2]!.trim().split(/\s+/) }
  if ((m = /Module (\S+) is in use\.?$/.exec(line))) return { kind: 'in-use', module: m[1], by: [] }
  if ((m = /Module (\S+) is not (?:currently loaded|in kernel\.)$/.exec(line))) return { kind: 'not-loaded', module: m[1] }
  if ((m = /Module (\S+) not found(?: in directory \S+|\.)$/.exec(line))) return { kind: 'not-found', module: m[1] }
  if ((m = /could not load module (\S+): No such file or directory$/.exec(line))) return { kind: 'not-found', module: m[1] }
  if ((m = /could not remove module (\S+): No such file or directory$/.exec(line))) return { kind: 'not-loaded', module: m[1] }
  // delete_module() answers EWOULDBLOCK while the module is in use (e.g. rmmod -f of a module with holders).
  if ((m = /could not remove module (\S+): Resource temporarily unavailable$/.exec(line))) return { kind: 'in-use', module: m[1], by: [] }
  // delete_module() answers EBUSY for a module that is not live: still coming (e.g. its init oopsed) or going.
  if ((m = /could not remove module (\S+): Device or resource busy$/.exec(line))) return { kind: 'in-use', module: m[1], by: [] }
  if ((m = /could not insert (?:module (\S+)|'([^']+)'): (.*)$/.exec(line))) return classifyInsert(m[1] ?? m[2]!, m[3]!, dmesg)
  return undefined
}

function classifyInsert(module: string, reason: string, dmesg: ExecResult['dmesg']): Omit<ObservedError, 'line'> {
  const versions = versionMismatches(dmesg)
  const params = invalidParams(dmesg)
  if (reason === 'File exists' || reason === 'Module already in kernel') return { kind: 'already-loaded', module }
  if (versions.length > 0) return { kind: 'symbol-version', module, symbols: versions.map((v) => v.symbol) }
  if (params.length > 0) return { kind: 'invalid-params', module, params: params.map((p) => p.param) }
  if (reason.startsWith('Unknown symbol in module')) return { kind: 'unknown-symbol', module, symbols: unknownSymbols(dmesg).map((u) => u.symbol) }
  if (reason === 'Module has wrong symbol version') return { kind: 'symbol-version', module, symbols: [] }
  if (reason === 'Invalid module format') return { kind: vermagicMismatch(dmesg) ? 'vermagic' : 'invalid-format', module }
  // EINVAL with no kernel line at all can only have come from the module's own init.
  if (reason === 'Invalid parameters')
    return dmesg.length === 0 ? { kind: 'init-failed', module, errno: -errnos.EINVAL } : { kind: 'invalid-params', module, params: [] }
  if (reason === 'Operation not permitted') return { kind: 'not-permitted', module }
  const errno = errnoFromText(reason)
  return { kind: 'init-failed', module, ...(errno === undefined ? {} : { errno: -errno }) }
}
