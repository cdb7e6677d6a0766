// `kmodspec sh`: run a script of module commands against a kernel and print what happened.
import { readFile } from 'node:fs/promises'
import process from 'node:process'
import { parseArgs } from 'node:util'
import { createBackend, resolveBackendName, resolveTree, type ModuleTree } from '../backends/index.js'
import type { Backend, BackendName, ExecResult, KernelLogRecord } from '../backends/types.js'
import { BackendError } from '../backends/types.js'
import { EMBEDDED_RELEASE } from '../profile/index.js'
import { survivable } from './diff.js'
import { releaseProblem } from './releases.js'
import { parseScript, scriptCommands, ScriptError, type ScriptCommand } from './script.js'

const help = `usage: kmodspec sh [--backend sim|qemu|host|ssh] [--release R] [--sysroot DIR] [--tree installed] [--cmdline ARGS] [--timeout MS] [--json] [-e] [SCRIPT]

Runs a script of commands (one a line, # comments; from SCRIPT or standard input) against a kernel.

options:
  --backend B     sim (default; else KMODSPEC_BACKEND), qemu, host (this machine's kernel; loads and
                  unloads are refused) or ssh (KMODSPEC_SSH_TARGET=user@host)
  --release R     kernel release (else KMODSPEC_RELEASE): its headers (sim), /boot/vmlinuz-R (qemu);
                  host and ssh check that the target runs R
  --sysroot DIR   sim only: read and write /lib/modules and /etc/modprobe.d in DIR (default: empty,
                  in memory)
  --tree T        installed: /lib/modules/<release> is the kernel's own installed tree (sim: the
                  host's, read lazily; qemu: the host's, each module uploaded when a command needs
                  it; ssh and host: the target's own); empty (default, else KMODSPEC_TREE)
  --cmdline ARGS  kernel command line words (e.g. 'foo.bar=1'): /proc/cmdline (sim), boot arguments
                  (qemu, a saved VM state of their own); not for host or ssh
  --timeout MS    per-command timeout in milliseconds (default 60000; sim: on the simulated kernel's
                  clock, which its sleeps and delays move)
  --json          one JSON object a command: {"cmd","exitCode","stdout","stderr","dmesg"}
  -e, --errexit   stop at the first command that fails and exit with its code
  -h, --help      this text

commands:
${Object.values(scriptCommands)
  .map((form) => `  ${form}`)
  .join('\n')}
`

/** The options sh accepts (its help names each one). */
export const shOptions = {
  backend: { type: 'string' },
  release: { type: 'string' },
  sysroot: { type: 'string' },
  tree: { type: 'string' },
  cmdline: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean', default: false },
  errexit: { type: 'boolean', short: 'e', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const

/** One dmesg-style line: `[    1.234567] text`. */
export function formatRecord(record: KernelLogRecord): string {
  const seconds = Math.floor(record.timestampUs / 1e6)
  const micros = String(record.timestampUs % 1e6).padStart(6, '0')
  return `[${String(seconds).padStart(5, ' ')}.${micros}] ${record.text}`
}

/** The JSON shape of one command, as `--json` prints it and as captures store it. */
export function toJsonRecord(command: ScriptCommand, result: ExecResult) {
  return {
    cmd: command.text,
    exitCode: result.exitCode,
    stdout: result.stdout,
    stderr: result.stderr,
    dmesg: result.dmesg.map((r) => r.text),
    // Records the kernel logged on its own meanwhile: kept, never as the command's (observe/unrelated.ts).
    ...(result.unrelated?.length ? { unrelated: result.unrelated.map((r) => r.text) } : {}),
  }
}

function transcript(command: ScriptCommand, result: ExecResult): string {
  const status = result.exitCode === 0 ? '' : `   # exit ${result.exitCode}`
  const lines = [`$ ${command.text}${status}\n`, result.stdout, result.stderr]
  lines.push(...result.dmesg.map((r) => `${formatRecord(r)}\n`))
  lines.push(...(result.unrelated ?? []).map((r) => `${formatRecord(r)}  (kernel, not caused by this command)\n`))
  return lines.join('')
}

export async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: shOptions,
    })
  } catch (error) {
    process.stderr.write(`kmodspec sh: ${(error as Error).message}\n${help}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(help)
    return 0
  }
  if (positionals.length > 1) {
    process.stderr.write(`kmodspec sh: one script at a time (got ${positionals.length}: ${positionals.join(' ')})\n`)
    return 2
  }
  const timeoutMs = values.timeout === undefined ? undefined : Number(values.timeout)
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0)) {
    process.stderr.write(`kmodspec sh: --timeout takes a whole number of milliseconds, not '${values.timeout}'\n`)
    return 2
  }

  let backendName: BackendName
  try {
    backendName = resolveBackendName(values.backend)
  } catch (error) {
    process.stderr.write(`kmodspec sh: ${(error as Error).message}\n`)
    return 2
  }
  // An option the backend would ignore is refused, so nobody believes it took effect.
  if (values.sysroot !== undefined && backendName !== 'sim') {
    process.stderr.write(`kmodspec sh: --sysroot is for the sim backend only (${backendName} uses the /lib/modules of its own kernel): drop it\n`)
    return 2
  }
  if (values.cmdline !== undefined && (backendName === 'host' || backendName === 'ssh')) {
    process.stderr.write(
      `kmodspec sh: --cmdline needs a kernel kmodspec boots (sim or qemu); ${backendName} runs with the command line it booted with: drop it\n`,
    )
    return 2
  }
  let tree: ModuleTree
  try {
    tree = resolveTree(values.tree)
  } catch (error) {
    process.stderr.write(`kmodspec sh: ${(error as Error).message}\n`)
    return 2
  }
  if (tree === 'installed' && values.sysroot !== undefined) {
    process.stderr.write('kmodspec sh: --sysroot and --tree installed both give /lib/modules: use one of them\n')
    return 2
  }
  const release = values.release ?? process.env.KMODSPEC_RELEASE
  if (release !== undefined && release.includes(',')) {
    process.stderr.write(`kmodspec sh: one release at a time (got ${release}): kmodspec run runs specs on several\n`)
    return 2
  }
  const needs =
    backendName === 'sim' ? { image: false, headers: release !== EMBEDDED_RELEASE } : backendName === 'qemu' ? { image: true, headers: true } : undefined
  const problem = release !== undefined && needs ? releaseProblem(release, needs) : undefined
  if (problem) {
    process.stderr.write(`kmodspec sh: ${problem}\n`)
    return 2
  }

  const [file] = positionals
  let source: string
  try {
    source = file === undefined || file === '-' ? await readStdin() : await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message
    process.stderr.write(`kmodspec sh: cannot read script '${file}': ${why}\n`)
    return 2
  }
  let commands: ScriptCommand[]
  try {
    commands = parseScript(source)
  } catch (error) {
    if (error instanceof ScriptError) {
      process.stderr.write(`kmodspec sh: ${file ?? '<stdin>'}: ${error.message}\n`)
      return 2
    }
    throw error
  }

  let backend: Backend
  try {
    backend = await createBackend({
      backend: backendName,
      release,
      sysroot: values.sysroot,
      tree,
      ...(values.cmdline !== undefined ? { cmdline: values.cmdline } : {}),
      timeoutMs,
    })
  } catch (error) {
    process.stderr.write(`kmodspec sh: ${(error as Error).message}\n`)
    return 1
  }

  let code = 0
  try {
    for (const command of commands) {
      let result: ExecResult
      try {
        result = await backend.exec(command.argv, { cwd: process.cwd(), timeoutMs })
      } catch (error) {
        if (!(error instanceof BackendError)) throw error
        if (values.json) {
          process.stdout.write(JSON.stringify({ cmd: command.text, error: { kind: error.kind, message: error.message, report: error.report } }) + '\n')
        } else {
          process.stdout.write(`$ ${command.text}\nkmodspec: the kernel failed: ${error.message}\n${error.report}\n`)
        }
        // The simulator's notes on the failed step (its result is the error's cause).
        for (const note of (error.cause as ExecResult | undefined)?.notes ?? []) process.stderr.write(`kmodspec: note: ${note}\n`)
        // After an oops or a WARNING the kernel runs on (only the process died): so does the script.
        if (!survivable(error)) return 1
        code = 1
        continue
      }
      process.stdout.write(values.json ? JSON.stringify(toJsonRecord(command, result)) + '\n' : transcript(command, result))
      // On our own stderr, so the command's output (and the JSON) stays what a real kernel would give.
      for (const note of result.notes ?? []) process.stderr.write(`kmodspec: note: ${note}\n`)
      code = result.exitCode
      if (values.errexit && code !== 0) return code
    }
    // Like sh: the status of the last command.
    return code
  } finally {
    await backend.close()
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
