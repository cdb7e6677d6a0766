// `kmodspec diff`: run scripts on the simulator and on the QEMU VM and show, side by side, where they differ.
import { readFile } from 'node:fs/promises'
import process from 'node:process'
import { parseArgs } from 'node:util'
import { createBackend, resolveTree, type ModuleTree } from '../backends/index.js'
import { normalizeRelease, normalizeText, reportHead, type TranscriptStep } from '../backends/normalize.js'
import { BackendError, type Backend } from '../backends/types.js'
import { releaseProblem } from './releases.js'
import { parseScript, ScriptError, type ScriptCommand } from './script.js'

const help = `usage: kmodspec diff [--release R] [--tree installed] [--json] SCRIPT...

Runs each script (the language of 'kmodspec sh') on the simulator and on a real kernel in the
QEMU VM, each script on a pristine kernel, and compares them command by command: exit code,
stdout, stderr and the kernel log lines each command caused. Only timestamps, kernel
addresses and %p's hashed pointers are ignored (and the release string, when the two kernels' releases differ).

options:
  --release R     kernel release for both (else KMODSPEC_RELEASE): its headers (simulator) and
                  /boot/vmlinuz-R (VM)
  --tree T        installed: both see the kernel's own /lib/modules/<release> (else KMODSPEC_TREE;
                  default empty)
  --json          one JSON object a script: {"script","same","commands","releases","differences"}
  -h, --help      this text

exit status: 0 when every script printed the same on both, 1 when any differs,
2 on trouble (bad option, unreadable script, a line the script language rejects, no VM).
`

/** A kernel failure (panic, oops, ...) that ended a script on one backend. */
export interface StepFailure {
  kind: string
  message: string
  report: string
}

/** What one command did: what it printed, or the kernel failure it caused (the script stops there). */
export type StepRecord = TranscriptStep | { cmd: string; error: StepFailure }

/** One script's run on one backend: the steps it ran, in order. */
export interface ScriptRun {
  release: string
  steps: StepRecord[]
}

export type Field = 'command' | 'kernel failure' | 'not run' | 'exit code' | 'stdout' | 'stderr' | 'dmesg'

/** One row of a side-by-side view: `mark` is '|' for a changed pair, '<' left only, '>' right only, ' ' same. */
export interface Row {
  mark: ' ' | '|' | '<' | '>'
  left?: string
  right?: string
}

export interface FieldDifference {
  field: Field
  rows: Row[]
}

/** A command whose outcome differs; `index` is its position in the script's commands. */
export interface CommandDifference {
  index: number
  cmd: string
  fields: FieldDifference[]
}

export interface Comparison {
  /** Commands compared (the longer of the two runs). */
  commands: number
  differences: CommandDifference[]
  /** Set when the two kernels' releases differ (their release strings were then compared as `<release>`). */
  releases?: { left: string; right: string }
}

/**
 * Compare two runs of the same script command by command, ignoring only timestamps, kernel
 * addresses and (when the runs' releases differ) the release strings.
 * @example
 * const c = compareRuns(simRun, vmRun)
 * if (c.differences.length) console.log(formatComparison(c, { name: 'x.sh' }))
 */
export function compareRuns(left: ScriptRun, right: ScriptRun): Comparison {
  const releases = left.release === right.release ? undefined : { left: left.release, right: right.release }
  const norm = (text: string) => (releases ? normalizeRelease(normalizeText(text), [left.release, right.release]) : normalizeText(text))
  const commands = Math.max(left.steps.length, right.steps.length)
  const differences: CommandDifference[] = []
  for (let index = 0; index < commands; index++) {
    const fields = compareStep(left.steps[index], right.steps[index], norm)
    if (fields.length > 0) differences.push({ index, cmd: (left.steps[index] ?? right.steps[index])!.cmd, fields })
  }
  return { commands, differences, ...(releases ? { releases } : {}) }
}

function compareStep(a: StepRecord | undefined, b: StepRecord | undefined, norm: (t: string) => string): FieldDifference[] {
  if (!a || !b) {
    const notRun = ['(not run: the kernel failed at an earlier command)']
    const ran = (s: StepRecord) => ('error' in s ? failureLines(s.error) : [`exit code ${s.exitCode}`])
    return [{ field: 'not run', rows: lineRows(a ? ran(a) : notRun, b ? ran(b) : notRun, norm) }]
  }
  const fields: FieldDifference[] = []
  if (a.cmd !== b.cmd) fields.push({ field: 'command', rows: [{ mark: '|', left: a.cmd, right: b.cmd }] })
  if ('error' in a || 'error' in b) {
    const side = (s: StepRecord) => ('error' in s ? failureLines(s.error) : ['(no kernel failure)', `exit code ${s.exitCode}`])
    const [la, lb] = [side(a), side(b)]
    if (!sameLines(la, lb, norm)) fields.push({ field: 'kernel failure', rows: lineRows(la, lb, norm) })
    return fields
  }
  if (a.exitCode !== b.exitCode) fields.push({ field: 'exit code', rows: [{ mark: '|', left: String(a.exitCode), right: String(b.exitCode) }] })
  for (const field of ['stdout', 'stderr'] as const) {
    if (norm(a[field]) !== norm(b[field])) fields.push({ field, rows: textRows(a[field], b[field], norm) })
  }
  if (!sameLines(a.dmesg, b.dmesg, norm)) fields.push({ field: 'dmesg', rows: lineRows(a.dmesg, b.dmesg, norm) })
  return fields
}

function failureLines(error: StepFailure): string[] {
  return [`${error.kind}: ${error.message}`, ...splitLines(reportHead(error.report))]
}

function sameLines(a: string[], b: string[], norm: (t: string) => string): boolean {
  return a.length === b.length && a.every((line, i) => norm(line) === norm(b[i]!))
}

function splitLines(text: string): string[] {
  if (text === '') return []
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  return lines
}

/** Rows for two texts; a difference only in the final newline gets a row of its own. */
function textRows(a: string, b: string, norm: (t: string) => string): Row[] {
  const rows = lineRows(splitLines(a), splitLines(b), norm)
  if (rows.every((r) => r.mark === ' ') && a.endsWith('\n') !== b.endsWith('\n')) {
    const ending = (t: string) => (t === '' || t.endsWith('\n') ? '(ends with a newline)' : '(no newline at the end)')
    rows.push({ mark: '|', left: ending(a), right: ending(b) })
  }
  return rows
}

/** Side-by-side rows of two line lists, aligned on their longest common subsequence (after normalizing). */
export function lineRows(a: readonly string[], b: readonly string[], norm: (t: string) => string = normalizeText): Row[] {
  const na = a.map(norm)
  const nb = b.map(norm)
  // lcs[i][j]: length of the longest common subsequence of na[i..] and nb[j..]
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0))
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = na[i] === nb[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!)
    }
  }
  const rows: Row[] = []
  let onlyLeft: string[] = []
  let onlyRight: string[] = []
  const flush = () => {
    // Pair a block of removed lines with the block of added lines beside it, as `diff -y` does.
    for (let k = 0; k < Math.max(onlyLeft.length, onlyRight.length); k++) {
      const [l, r] = [onlyLeft[k], onlyRight[k]]
      rows.push(l !== undefined && r !== undefined ? { mark: '|', left: l, right: r } : l !== undefined ? { mark: '<', left: l } : { mark: '>', right: r })
    }
    onlyLeft = []
    onlyRight = []
  }
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && na[i] === nb[j]) {
      flush()
      rows.push({ mark: ' ', left: a[i++], right: b[j++] })
    } else if (j >= b.length || (i < a.length && lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      onlyLeft.push(a[i++]!)
    } else {
      onlyRight.push(b[j++]!)
    }
  }
  flush()
  return rows
}

export interface FormatOptions {
  /** What the script is called in the output (its path). */
  name: string
  /** Names of the two sides. Default: simulator, VM. */
  labels?: [string, string]
  /** The script line of the command at an index (1-based), for "line N: ..." headings. */
  lineOf?: (index: number) => number | undefined
  /** ANSI colors (only when writing to a terminal). */
  color?: boolean
}

/** The summary line of one script: "NAME: same (M commands)" or "NAME: N of M commands differ". */
export function summaryLine(comparison: Comparison, name: string): string {
  const { commands, differences } = comparison
  return differences.length === 0 ? `${name}: same (${commands} commands)` : `${name}: ${differences.length} of ${commands} commands differ`
}

/**
 * The side-by-side report of one comparison: for each differing command its script line, then
 * each differing field with the left side's lines on the left and the right side's on the right,
 * differing rows marked `!`; last, the summary line.
 */
export function formatComparison(comparison: Comparison, options: FormatOptions): string {
  const { name, labels = ['simulator', 'VM'], lineOf, color = false } = options
  const paint = (code: string, text: string) => (color ? `\u001B[${code}m${text}\u001B[0m` : text)
  const out: string[] = []
  if (comparison.releases) {
    const { left, right } = comparison.releases
    out.push(`${name}: releases differ (${labels[0]} ${left}, ${labels[1]} ${right}): both release strings compared as <release>`)
  }
  if (comparison.differences.length > 0) out.push(paint('1', `--- ${name}: ${labels[0]} on the left, ${labels[1]} on the right`))
  for (const d of comparison.differences) {
    const line = lineOf?.(d.index)
    out.push(paint('1', `${line === undefined ? `command ${d.index + 1}` : `line ${line}`}: ${d.cmd}`))
    for (const f of d.fields) {
      out.push(`  ${paint('36', f.field)}`)
      const width = Math.max(0, ...f.rows.map((r) => (r.left ?? '').length))
      for (const r of f.rows) {
        const differs = r.mark !== ' '
        const left = (r.left ?? '').padEnd(width)
        const sep = r.mark === ' ' ? '|' : r.mark
        const text = `${left} ${sep} ${r.right ?? ''}`.trimEnd()
        out.push(differs ? `  ${paint('31', '!')} ${paint('33', text)}` : `    ${text}`)
      }
    }
  }
  out.push(summaryLine(comparison, name))
  return out.join('\n') + '\n'
}

/** A kernel failure the kernel itself survives (panic_on_oops is off): the next command still runs. */
export function survivable(error: BackendError): boolean {
  return error.kind === 'oops' || error.kind === 'warning'
}

/**
 * Run a script's commands on one backend; a kernel failure (BackendError) is recorded as the step's
 * outcome instead of being thrown, and ends the run unless the kernel survives it (oops, WARNING).
 */
export async function runScript(backend: Backend, commands: readonly ScriptCommand[], cwd = process.cwd()): Promise<ScriptRun> {
  const steps: StepRecord[] = []
  for (const command of commands) {
    try {
      const r = await backend.exec(command.argv, { cwd })
      steps.push({ cmd: command.text, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, dmesg: r.dmesg.map((d) => d.text) })
    } catch (error) {
      if (!(error instanceof BackendError)) throw error
      steps.push({ cmd: command.text, error: { kind: error.kind, message: error.message, report: error.report } })
      // An oops kills only the process and a WARNING nothing: the script goes on, as on the VM.
      if (!survivable(error)) break
    }
  }
  return { release: backend.release, steps }
}

export async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        release: { type: 'string' },
        tree: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  } catch (error) {
    process.stderr.write(`kmodspec diff: ${(error as Error).message}\n${help}`)
    return 2
  }
  const { values, positionals: files } = parsed
  if (values.help) {
    process.stdout.write(help)
    return 0
  }
  if (files.length === 0) {
    process.stderr.write(`kmodspec diff: name at least one script to compare\n${help}`)
    return 2
  }

  let tree: ModuleTree
  try {
    tree = resolveTree(values.tree)
  } catch (error) {
    process.stderr.write(`kmodspec diff: ${(error as Error).message}\n`)
    return 2
  }
  const release = values.release ?? process.env.KMODSPEC_RELEASE
  const problem = release === undefined ? undefined : releaseProblem(release, { image: true, headers: true })
  if (problem) {
    process.stderr.write(`kmodspec diff: ${problem}\n`)
    return 2
  }

  // Read and parse every script first, so a typo in the last one costs no VM boot.
  const scripts: { file: string; commands: ScriptCommand[] }[] = []
  for (const file of files) {
    let source: string
    try {
      source = await readFile(file, 'utf8')
    } catch (error) {
      process.stderr.write(`kmodspec diff: cannot read script '${file}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}\n`)
      return 2
    }
    try {
      scripts.push({ file, commands: parseScript(source) })
    } catch (error) {
      if (!(error instanceof ScriptError)) throw error
      process.stderr.write(`kmodspec diff: ${file}: ${error.message}\n`)
      return 2
    }
  }

  const backends: Backend[] = []
  try {
    let sim: Backend
    let vm: Backend
    try {
      backends.push((sim = await createBackend({ backend: 'sim', release: values.release, tree })))
      backends.push((vm = await createBackend({ backend: 'qemu', release: values.release, tree })))
    } catch (error) {
      process.stderr.write(`kmodspec diff: cannot start the ${backends.length === 0 ? 'simulator' : 'VM'}: ${(error as Error).message}\n`)
      return 2
    }
    const color = !values.json && process.stdout.isTTY === true
    let differ = 0
    for (const [n, { file, commands }] of scripts.entries()) {
      if (n > 0) await Promise.all([sim.reset(), vm.reset()])
      const left = await runScript(sim, commands)
      const right = await runScript(vm, commands)
      const comparison = compareRuns(left, right)
      if (comparison.differences.length > 0) differ++
      if (values.json) {
        const differences = comparison.differences.map((d) => ({ line: commands[d.index]?.line, ...d }))
        const record = {
          script: file,
          same: differences.length === 0,
          commands: comparison.commands,
          releases: { simulator: sim.release, vm: vm.release },
          differences,
        }
        process.stdout.write(JSON.stringify(record) + '\n')
      } else {
        process.stdout.write(formatComparison(comparison, { name: file, color, lineOf: (i) => commands[i]?.line }))
      }
    }
    return differ > 0 ? 1 : 0
  } finally {
    // SIGINT/SIGTERM are covered by the qemu backend's process-wide cleanup; this covers returns and throws.
    await Promise.allSettled(backends.map((b) => b.close()))
  }
}
