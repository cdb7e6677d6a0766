import { existsSync } from 'node:fs'
import process from 'node:process'
import { execa } from 'execa'
import { dir as tmpDir } from 'tmp-promise'
import { track } from '../qemu/cleanup.js'
import { BackendError, UsageError } from '../types.js'
import { shellLine, shellQuote } from './quote.js'

/** What one program run on the target printed and how it ended. */
export interface RunResult {
  exitCode: number
  stdout: string
  stderr: string
}

export interface RunOptions {
  /** Absolute directory on the target to run in. */
  cwd?: string
  /** Bytes for the program's stdin (else stdin is empty). */
  input?: string | Uint8Array
  /** Milliseconds before the run is abandoned with a BackendError of kind 'timeout'. */
  timeoutMs?: number
}

/** Runs an argv somewhere: on this machine, or on a machine reached with ssh. Never through a local shell. */
export interface Runner {
  /** Where commands run, for messages ("this machine", "root@10.0.0.5"). */
  readonly where: string
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>
  /** Ends what the runner keeps open (an ssh ControlMaster). Idempotent. */
  close(): Promise<void>
}

/** Directories kmod's tools live in; a non-root PATH often lacks the sbin ones. */
const toolPath = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']

function withToolPath(current = ''): string {
  const have = current.split(':').filter(Boolean)
  return [...have, ...toolPath.filter((d) => !have.includes(d))].join(':')
}

function timedOut(argv: readonly string[], where: string, ms: number | undefined): BackendError {
  return new BackendError(`'${argv.join(' ')}' on ${where} did not finish within ${ms} ms (it was stopped)`, 'timeout')
}

/**
 * Runs commands on this machine with execa (argument arrays, no shell). With `sudo`, a
 * non-root process prefixes each argv with `sudo -n --` (never prompts: configure NOPASSWD).
 */
export function localRunner(options: { sudo?: boolean; /** Whether this process is root (default: its uid says). */ root?: boolean } = {}): Runner {
  const { root = process.getuid?.() === 0 } = options
  const sudo = options.sudo === true && !root
  const where = sudo ? 'this machine (sudo)' : 'this machine'
  return {
    where,
    async run(argv, { cwd, input, timeoutMs } = {}) {
      const [program, ...args] = sudo ? ['sudo', '-n', '--', ...argv] : argv
      if (program === undefined) throw new UsageError(`empty command: nothing to run on ${where}`)
      const r = await execa(program, args, {
        cwd,
        reject: false,
        stripFinalNewline: false,
        timeout: timeoutMs,
        env: { PATH: withToolPath(process.env.PATH) },
        ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
      })
      if (r.timedOut) throw timedOut(argv, where, timeoutMs)
      if (r.exitCode === undefined) {
        if (cwd && !existsSync(cwd))
          throw new UsageError(`the directory ${cwd} to run '${argv.join(' ')}' in does not exist on ${where}: create it or pass another cwd`)
        const missing = (r as { code?: string }).code === 'ENOENT'
        throw new BackendError(
          missing
            ? `'${program}' is not installed on ${where} (PATH ${withToolPath(process.env.PATH)}): install it (kmod for the module tools, coreutils for dd)`
            : `'${argv.join(' ')}' could not run on ${where}: ${r.message}`,
          'setup',
        )
      }
      return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) }
    },
    async close() {},
  }
}

/** How to reach the target with the ssh client. */
export interface SshTarget {
  /** user@host (or a Host alias of ~/.ssh/config). */
  target: string
  port?: number
  /** Private key file (ssh -i), used alone (IdentitiesOnly=yes). */
  identity?: string
  /** Extra `-o` options, e.g. ['StrictHostKeyChecking=no']; they win over kmodspec's defaults. */
  sshOptions?: string[]
}

/** What ssh itself prints when it could not reach or keep the connection (exit status 255). */
const sshFailure =
  /^(ssh: |kex_exchange_identification|Connection (closed|reset|refused|timed out)|.*Permission denied \(|Host key verification failed|Control socket connect|mux_client|ssh_exchange_identification|Received disconnect|client_loop)/m

/** The ssh client's argv for one remote command line (exported for tests: nothing unquoted reaches the remote shell). */
export function sshArgv(t: SshTarget, controlPath: string | undefined, remoteLine: string): string[] {
  // ssh takes the first value it sees for an option: the user's come first so they win.
  const opts = [...(t.sshOptions ?? []), 'BatchMode=yes', 'LogLevel=ERROR', 'ConnectTimeout=20', 'ServerAliveInterval=15']
  if (controlPath) opts.push('ControlMaster=auto', `ControlPath=${controlPath}`, 'ControlPersist=120')
  if (t.identity) opts.push('IdentitiesOnly=yes')
  return [
    '-T',
    ...opts.flatMap((o) => ['-o', o]),
    ...(t.port !== undefined ? ['-p', String(t.port)] : []),
    ...(t.identity ? ['-i', t.identity] : []),
    t.target,
    '--',
    remoteLine,
  ]
}

/** The remote command line: cd into cwd (when given) and exec the quoted argv, so the shell stays out of the way. */
export function remoteLine(argv: readonly string[], cwd?: string): string {
  const run = `exec ${shellLine(argv)}`
  return cwd ? `cd ${shellQuote(cwd)} && ${run}` : run
}

/**
 * Runs commands on another machine with the ssh client (execa, argument arrays). ssh hands the
 * remote login shell one command line, so every word is single-quoted by {@link shellQuote}.
 * Connections share one ControlMaster (a socket in a temp dir) so a step costs no new handshake.
 */
export async function sshRunner(t: SshTarget): Promise<Runner> {
  if (!t.target || /^-/.test(t.target) || /\s/.test(t.target)) {
    throw new UsageError(`ssh target '${t.target}' is not user@host: pass the target option or set KMODSPEC_SSH_TARGET`)
  }
  const dir = await tmpDir({ prefix: 'kmodspec-ssh-', unsafeCleanup: true })
  const controlPath = `${dir.path}/cm`
  // An unclosed runner still loses its temp dir at exit; its ControlMaster ends by itself after ControlPersist.
  const untrack = track({ dir: dir.path, kill: () => {} })
  const where = t.port !== undefined ? `${t.target} (port ${t.port})` : t.target
  let connected = false
  let closed = false
  return {
    where,
    async run(argv, { cwd, input, timeoutMs } = {}) {
      if (closed) throw new UsageError(`the ssh connection to ${where} is closed`)
      const sub = execa('ssh', sshArgv(t, controlPath, remoteLine(argv, cwd)), {
        reject: false,
        stripFinalNewline: false,
        ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
      })
      // Not execa's timeout: the client hands its stdout to the ControlMaster, which keeps it open while
      // the remote command runs, so a killed client's output would never end. Stop reading it too.
      let late = false
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              late = true
              sub.kill('SIGKILL')
              sub.stdout?.destroy()
              sub.stderr?.destroy()
            }, timeoutMs)
      const r = await sub.finally(() => clearTimeout(timer))
      if (late) throw timedOut(argv, where, timeoutMs)
      if (r.exitCode === undefined) throw new BackendError(`the ssh client could not run: ${r.message} (install openssh-client)`, 'setup')
      const stderr = String(r.stderr)
      if (r.exitCode === 255 && sshFailure.test(stderr)) {
        throw new BackendError(
          connected ? `the ssh connection to ${where} failed during '${argv.join(' ')}': ${stderr.trim()}` : `cannot reach ${where} with ssh: ${stderr.trim()}`,
          connected ? 'died' : 'setup',
          stderr,
        )
      }
      connected = true
      return { exitCode: r.exitCode, stdout: String(r.stdout), stderr }
    },
    async close() {
      if (closed) return
      closed = true
      // Ends the ControlMaster if one is running; nothing on the remote side is touched.
      await execa('ssh', ['-o', `ControlPath=${controlPath}`, '-O', 'exit', t.target], { reject: false, stdin: 'ignore', timeout: 10_000 })
      await dir.cleanup()
      untrack()
    },
  }
}
