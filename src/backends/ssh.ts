import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'
import type { BackendOptions } from './options.js'
import { BackendError, UsageError } from './types.js'
import { refuseUnknownOptions } from './options.js'
import { RemoteBackend, targetRelease } from './remote/backend.js'
import { type Runner, sshRunner } from './remote/runner.js'

/** Options of the ssh backend. */
export interface SshBackendOptions extends BackendOptions {
  /** user@host of the test machine (root, or a user who may load modules). Default: env KMODSPEC_SSH_TARGET. */
  target?: string
  /** ssh port. Default: ssh's own (22 or ~/.ssh/config). */
  port?: number
  /** Private key file (ssh -i). */
  identity?: string
  /** Extra ssh `-o` options, e.g. ['StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null']. */
  sshOptions?: string[]
  /** Milliseconds one command may take. Default: 60000. */
  timeout?: number
  /** Same as `timeout` (the name `kmodspec sh --timeout` passes). */
  timeoutMs?: number
}

/** Places the target owns: files there are never copied from this machine. */
const targetPlaces = ['/lib/modules', '/etc/modprobe.d', '/proc', '/sys', '/dev']

/** Copies the files a command names to the same absolute path on the target, once per content. */
class Uploader {
  private uploaded = new Map<string, string>()
  private dirs = new Set<string>()

  constructor(
    private readonly runner: Runner,
    private readonly timeoutMs: number,
  ) {}

  forget(): void {
    this.uploaded.clear()
    this.dirs.clear()
  }

  async mkdir(dir: string): Promise<void> {
    if (this.dirs.has(dir)) return
    const r = await this.runner.run(['mkdir', '-p', dir], { timeoutMs: this.timeoutMs })
    if (r.exitCode !== 0) throw new BackendError(`creating ${dir} on ${this.runner.where} failed: ${r.stderr.trim()}`, 'setup')
    this.dirs.add(dir)
  }

  async mirror(localPath: string): Promise<void> {
    if (targetPlaces.some((p) => localPath === p || localPath.startsWith(p + '/'))) return
    let st
    try {
      st = await stat(localPath)
    } catch {
      return
    }
    if (st.isDirectory()) return this.mkdir(localPath)
    if (!st.isFile()) return
    const data = await readFile(localPath)
    const hash = createHash('sha256').update(data).digest('hex')
    if (this.uploaded.get(localPath) === hash) return
    await this.mkdir(path.dirname(localPath))
    // dd reads the bytes from stdin: no remote shell redirection involved.
    const r = await this.runner.run(['dd', `of=${localPath}`, 'bs=1M', 'status=none'], { input: data, timeoutMs: this.timeoutMs })
    if (r.exitCode !== 0) throw new BackendError(`uploading ${localPath} to ${this.runner.where} failed: ${r.stderr.trim()}`, 'setup')
    this.uploaded.set(localPath, hash)
  }
}

/**
 * The ssh backend: every command runs on a test machine reached with the ssh client (execa; each
 * word single-quoted for the remote shell), kmod's tools by their real names there. Files the
 * command names are uploaded to the same absolute path and the command runs from the same cwd,
 * so messages show the path the user gave. Each step's kernel log records come from the
 * target's /dev/kmsg (sequence numbers read before and after the command). The target needs
 * kmod's tools, GNU dd (coreutils) and a POSIX shell as the user's login shell.
 *
 * `reset()` unloads every module the run loaded (newest first) but cannot give a pristine kernel:
 * taint and once-per-boot messages persist. For pristine-per-test semantics use the qemu backend.
 * `close()` ends only the ssh ControlMaster.
 *
 * @example
 * const ssh = await createSshBackend({ target: 'root@testvm', identity: '~/.ssh/testvm' })
 * const r = await ssh.exec(['insmod', 'fixtures/hello/hello_api.ko'])
 */
export async function createSshBackend(options: SshBackendOptions = {}): Promise<RemoteBackend> {
  refuseUnknownOptions('ssh', options)
  const { target = process.env.KMODSPEC_SSH_TARGET, port, identity, sshOptions = [], timeoutMs, timeout = timeoutMs ?? 60_000, release: wanted } = options
  if (!target) throw new UsageError('the ssh backend needs a target: pass { target: "user@host" } or set KMODSPEC_SSH_TARGET')
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536))
    throw new UsageError(`ssh port '${String(port)}' is not a TCP port number (1-65535)`)
  if (!Array.isArray(sshOptions) || sshOptions.some((o) => typeof o !== 'string' || !o.includes('='))) {
    throw new UsageError('sshOptions takes ssh -o options as strings such as "StrictHostKeyChecking=no"')
  }
  const runner = await sshRunner({ target, port, identity, sshOptions })
  try {
    const release = await targetRelease(runner)
    if (wanted !== undefined && wanted !== release) throw new UsageError(`${runner.where} runs kernel ${release}, not the release ${wanted} asked for`)
    const uploader = new Uploader(runner, timeout)
    return new RemoteBackend({
      name: 'ssh',
      runner,
      release,
      timeoutMs: timeout,
      async prepare(parsed, cwd) {
        await uploader.mkdir(cwd)
        for (const word of [...parsed.command.slice(1), ...(parsed.file ? [parsed.file] : [])]) await uploader.mirror(path.resolve(cwd, word))
      },
      forget: () => uploader.forget(),
    })
  } catch (error) {
    await runner.close()
    throw error
  }
}
