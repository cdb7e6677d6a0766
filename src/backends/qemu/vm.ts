import { open, rename, rm, truncate, writeFile } from 'node:fs/promises'
import { createWriteStream } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import process from 'node:process'
import { execa, type ResultPromise } from 'execa'
import { dir as tmpDir } from 'tmp-promise'
import { BackendError } from '../types.js'
import { track } from './cleanup.js'
import { decodeReply, encodeExec, encodeMkdir, encodePing, encodePut, encodeSettle, type ExecRequest, FrameReader, type Reply } from './protocol.js'

/** The shared memory window files travel through (ivshmem BAR 2); bigger files go in chunks. */
const shmSize = 16 * 1024 * 1024

/** Everything that decides what QEMU runs; two VMs with equal configs can share a saved state. */
export interface VmConfig {
  qemu: string
  accel: 'kvm' | 'tcg'
  kernel: string
  initramfs: string
  /** QEMU's -m value, e.g. "256M". */
  memory: string
  append: string[]
  /** The ssh test VM variant: an e1000 NIC on user-mode networking, guest port 22 forwarded from 127.0.0.1:sshPort only. */
  network?: { sshPort: number }
  /** More QEMU machine arguments (e.g. `-icount shift=0,sleep=off`); part of the machine, so of the saved state's key. */
  extraArgs?: string[]
}

/** The QEMU arguments shared by a boot and a restore (a restore must match the saved machine). */
export function machineArgs(c: VmConfig, shmFile = 'SHM'): string[] {
  return [
    '-accel',
    c.accel,
    '-M',
    'pc',
    '-m',
    c.memory,
    '-smp',
    '1',
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-kernel',
    c.kernel,
    '-initrd',
    c.initramfs,
    '-append',
    c.append.join(' '),
    '-object',
    `memory-backend-file,id=shm,share=on,size=${shmSize},mem-path=${shmFile}`,
    '-device',
    'ivshmem-plain,memdev=shm,master=on',
    // restrict=on keeps the guest off every network; only the explicit loopback forward reaches it.
    ...(c.network ? ['-netdev', `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${c.network.sshPort}-:22`, '-device', 'e1000,netdev=n0'] : []),
    ...(c.extraArgs ?? []),
  ]
}

const consoleLimit = 256 * 1024

async function listen(file: string): Promise<{ server: net.Server; connection: Promise<net.Socket> }> {
  const server = net.createServer()
  const connection = new Promise<net.Socket>((resolve) => server.once('connection', resolve))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(file, () => resolve())
  })
  return { server, connection }
}

/**
 * One QEMU process: the kernel console on ttyS0 (kept in memory), the agent on ttyS1, and QMP.
 * Sockets are served by us and QEMU connects to them, so nothing races at start.
 */
export class Vm {
  private proc?: ResultPromise
  private dir?: string
  private untrack?: () => void
  private servers: net.Server[] = []
  private agent?: net.Socket
  private qmpSocket?: net.Socket
  private consoleSocket?: net.Socket
  private consoleText = ''
  private replies: Reply[] = []
  private replyWaiters: ((r: Reply | undefined) => void)[] = []
  private qmpWaiters = new Map<number, (r: { return?: unknown; error?: { desc: string } }) => void>()
  private qmpId = 1
  private exited = false
  private exitWaiters: (() => void)[] = []
  private stderrText = ''
  private shmFile = ''
  private queue: Promise<unknown> = Promise.resolve()

  constructor(readonly config: VmConfig) {}

  /** What the kernel printed on the console (the last 256 KiB). */
  get console(): string {
    return this.consoleText
  }

  /** QEMU's process id while it runs. */
  get pid(): number | undefined {
    return this.exited ? undefined : this.proc?.pid
  }

  /** The VM's temp dir (sockets, shared memory file) while it exists. */
  get tempDir(): string | undefined {
    return this.dir
  }

  get alive(): boolean {
    return this.proc !== undefined && !this.exited
  }

  /** The last lines of the console, for error reports. */
  consoleTail(lines = 40): string {
    return this.consoleText.replace(/\r/g, '').split('\n').slice(-lines).join('\n')
  }

  /** Boots (or, with `incoming`, restores a saved state) and waits until the agent answers. Returns the kernel release for a boot. */
  async start(options: { incoming?: string; readyTimeoutMs: number }): Promise<string | undefined> {
    const d = await tmpDir({ prefix: 'kmodspec-vm-', unsafeCleanup: true })
    this.dir = d.path
    this.shmFile = path.join(d.path, 'shm')
    // Created here: a mem-path QEMU creates itself is unlinked, and we write files into it.
    await writeFile(this.shmFile, '')
    await truncate(this.shmFile, shmSize)
    this.untrack = track({ dir: d.path, kill: () => this.proc?.kill('SIGKILL') })
    const con = await listen(path.join(d.path, 'console.sock'))
    const agent = await listen(path.join(d.path, 'agent.sock'))
    const qmp = await listen(path.join(d.path, 'qmp.sock'))
    this.servers.push(con.server, agent.server, qmp.server)
    const args = [
      ...machineArgs(this.config, this.shmFile),
      '-chardev',
      `socket,id=con,path=${path.join(d.path, 'console.sock')}`,
      '-serial',
      'chardev:con',
      '-chardev',
      `socket,id=agent,path=${path.join(d.path, 'agent.sock')}`,
      '-serial',
      'chardev:agent',
      '-chardev',
      `socket,id=qmp,path=${path.join(d.path, 'qmp.sock')}`,
      '-mon',
      'chardev=qmp,mode=control',
    ]
    let stateFd: import('node:fs/promises').FileHandle | undefined
    if (options.incoming) {
      stateFd = await open(options.incoming, 'r')
      args.push('-incoming', 'fd:3')
    }
    // QEMU reads the state straight from our open file (fd 3); execa's types list only fds 3-9 there, any fd works.
    const stdio = stateFd ? (['ignore', 'pipe', 'pipe', stateFd.fd as 3] as const) : (['ignore', 'pipe', 'pipe'] as const)
    this.proc = execa(this.config.qemu, args, { stdio, cleanup: true, reject: false, buffer: false }) as unknown as ResultPromise
    await stateFd?.close()
    this.proc.stderr?.on('data', (b: Buffer) => {
      this.stderrText += b.toString()
    })
    this.proc.stdout?.resume()
    void this.proc.then(
      () => this.onExit(),
      () => this.onExit(),
    )
    const hello = options.incoming ? undefined : this.nextReply()
    try {
      await this.until(Promise.all([con.connection, agent.connection, qmp.connection]), options.readyTimeoutMs, 'QEMU did not connect its sockets')
      const [conSock, agentSock, qmpSock] = await Promise.all([con.connection, agent.connection, qmp.connection])
      this.consoleSocket = conSock
      conSock.on('data', (b: Buffer) => this.onConsole(b))
      this.attachAgent(agentSock)
      this.attachQmp(qmpSock)
      await this.qmp('qmp_capabilities')
      if (options.incoming) {
        await this.until(this.running(), options.readyTimeoutMs, 'the VM state did not load')
        // A restored agent is waiting for a request: prove it answers.
        const token = Math.floor(Math.random() * 0xffffffff)
        const pong = await this.until(this.request(encodePing(token)), options.readyTimeoutMs, 'the restored VM did not answer')
        if (pong.type !== 'pong' || pong.token !== token) throw new BackendError(`the restored VM answered a ping with ${pong.type}`, 'setup')
        return undefined
      }
      const r = await this.until(hello!, options.readyTimeoutMs, 'the VM did not come up')
      if (r?.type !== 'hello') throw new BackendError(`the VM agent sent ${r?.type ?? 'nothing'} instead of its hello`, 'setup')
      return r.release
    } catch (error) {
      await this.kill()
      throw error
    }
  }

  /** Waits until an incoming migration has loaded, and resumes the VM if it stayed paused. */
  private async running(): Promise<void> {
    for (;;) {
      const { status } = (await this.qmp('query-status')) as { status: string }
      if (status === 'running') return
      if (status === 'paused' || status === 'postmigrate') {
        await this.qmp('cont')
        return
      }
      await new Promise((r) => setTimeout(r, 10))
    }
  }

  private onConsole(b: Buffer): void {
    this.consoleText += b.toString('utf8')
    if (this.consoleText.length > consoleLimit) this.consoleText = this.consoleText.slice(-consoleLimit)
  }

  private attachAgent(s: net.Socket): void {
    this.agent = s
    const reader = new FrameReader()
    s.on('data', (chunk: Buffer) => {
      for (const body of reader.push(chunk)) {
        const reply = decodeReply(body)
        const waiter = this.replyWaiters.shift()
        if (waiter) waiter(reply)
        else this.replies.push(reply)
      }
    })
    s.on('error', () => {})
  }

  private attachQmp(s: net.Socket): void {
    this.qmpSocket = s
    let pending = ''
    s.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8')
      let nl: number
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim()
        pending = pending.slice(nl + 1)
        if (!line) continue
        const msg = JSON.parse(line) as { id?: number; return?: unknown; error?: { desc: string } }
        if (typeof msg.id === 'number') {
          this.qmpWaiters.get(msg.id)?.(msg)
          this.qmpWaiters.delete(msg.id)
        }
      }
    })
    s.on('error', () => {})
  }

  private onExit(): void {
    if (this.exited) return
    this.exited = true
    for (const w of this.replyWaiters.splice(0)) w(undefined)
    for (const w of this.qmpWaiters.values()) w({ error: { desc: 'QEMU exited' } })
    this.qmpWaiters.clear()
    for (const w of this.exitWaiters.splice(0)) w()
  }

  /** Why QEMU is gone, as a BackendError: a panic when the console shows one, else 'died'. */
  deathError(what: string): BackendError {
    const panicAt = this.consoleText.lastIndexOf('Kernel panic - not syncing')
    if (panicAt >= 0) {
      const from = this.consoleText.lastIndexOf('\n', Math.max(0, this.consoleText.lastIndexOf('cut here', panicAt)))
      const report = this.consoleText
        .slice(Math.max(0, Math.min(from, panicAt)))
        .replace(/\r/g, '')
        .trim()
      return new BackendError(`the kernel panicked during ${what}`, 'panic', report)
    }
    const stderr = this.stderrText.trim()
    return new BackendError(`QEMU exited during ${what}${stderr ? `: ${stderr}` : ''}`, 'died', `${stderr}\n${this.consoleTail()}`.trim())
  }

  private nextReply(): Promise<Reply | undefined> {
    const queued = this.replies.shift()
    if (queued) return Promise.resolve(queued)
    if (this.exited) return Promise.resolve(undefined)
    return new Promise((resolve) => this.replyWaiters.push(resolve))
  }

  private async until<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    let fail: (() => void) | undefined
    const exit = new Promise<never>((_, reject) => {
      fail = (): void => reject(this.deathError(what))
      if (this.exited) fail()
      else this.exitWaiters.push(fail)
    })
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BackendError(`${what}: no answer within ${ms} ms`, 'timeout', this.consoleTail())), ms)
    })
    try {
      return await Promise.race([p, exit, timeout])
    } finally {
      clearTimeout(timer)
      this.exitWaiters = this.exitWaiters.filter((w) => w !== fail)
    }
  }

  private async send(frame: Buffer): Promise<Reply> {
    if (!this.alive || !this.agent) throw this.deathError('a request')
    const reply = this.nextReply()
    this.agent.write(frame)
    const r = await reply
    if (!r) throw this.deathError('a request')
    return r
  }

  /** Sends one request and waits for its reply; requests are serialized. */
  request(frame: Buffer): Promise<Reply> {
    const run = (): Promise<Reply> => this.send(frame)
    const next = this.queue.then(run, run)
    this.queue = next.catch(() => {})
    return next
  }

  /** Runs a command; on timeout QEMU is killed and the error carries the console tail. */
  async exec(req: ExecRequest, timeoutMs: number): Promise<Extract<Reply, { type: 'result' }>> {
    const what = `'${req.argv.join(' ')}'`
    try {
      const r = await this.until(this.request(encodeExec(req)), timeoutMs, `the command ${what}`)
      if (r.type !== 'result') throw new BackendError(`the VM agent failed to run ${what}: ${r.type === 'error' ? r.message : r.type}`, 'setup')
      return r
    } catch (error) {
      if (error instanceof BackendError && error.kind === 'timeout') {
        await this.kill()
        throw new BackendError(
          `the command ${what} did not finish within ${timeoutMs} ms (the VM was stopped; reset() brings a fresh kernel)`,
          'timeout',
          this.consoleTail(),
        )
      }
      throw error
    }
  }

  /** Copies a file into the VM through the shared memory window. */
  async put(file: string, mode: number, data: Uint8Array, timeoutMs: number): Promise<void> {
    let offset = 0
    do {
      const chunk = data.subarray(offset, offset + shmSize)
      const run = async (): Promise<Reply> => {
        const fh = await open(this.shmFile, 'r+')
        try {
          await fh.write(chunk, 0, chunk.length, 0)
        } finally {
          await fh.close()
        }
        return this.send(encodePut(file, mode, offset > 0, chunk.length))
      }
      // The window is shared by every put: serialize with other requests.
      const next = this.queue.then(run, run)
      this.queue = next.catch(() => {})
      const r = await this.until(next, timeoutMs, `uploading ${file}`)
      if (r.type === 'error') throw new BackendError(`uploading ${file} to the VM failed: ${r.message}`, 'setup')
      offset += chunk.length
    } while (offset < data.length)
  }

  async mkdir(dir: string, timeoutMs: number): Promise<void> {
    const r = await this.until(this.request(encodeMkdir(dir)), timeoutMs, `creating ${dir}`)
    if (r.type === 'error') throw new BackendError(`creating ${dir} in the VM failed: ${r.message}`, 'setup')
  }

  /**
   * Waits, by the guest's own signals and clock, until the kernel's asynchronous boot work is
   * over (see the agent's 'S' request). Fails with the last records seen when it is not within `maxMs`.
   */
  async settle(quietMs: number, maxMs: number, timeoutMs: number): Promise<void> {
    const r = await this.until(this.request(encodeSettle(quietMs, maxMs)), timeoutMs, 'waiting for the kernel to settle')
    if (r.type === 'error') throw new BackendError(`${r.message}; no VM state was saved`, 'setup', this.consoleTail())
  }

  async qmp(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (!this.qmpSocket) throw new BackendError('QMP is not connected', 'setup')
    const id = this.qmpId++
    const reply = new Promise<{ return?: unknown; error?: { desc: string } }>((resolve) => this.qmpWaiters.set(id, resolve))
    this.qmpSocket.write(JSON.stringify({ execute: command, arguments: args, id }) + '\n')
    const r = await reply
    if (r.error) throw new BackendError(`QMP ${command} failed: ${r.error.desc}`, 'setup')
    return r.return
  }

  /**
   * Writes the VM's whole state to `file` (a QEMU migration stream, over a unix socket we serve)
   * and lets the VM run on. `-incoming fd:N` with that file brings this moment back.
   */
  async save(file: string, timeoutMs: number): Promise<void> {
    const sock = path.join(this.dir!, 'migrate.sock')
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`
    const server = net.createServer()
    this.servers.push(server)
    const written = new Promise<void>((resolve, reject) => {
      server.once('connection', (s) => {
        const out = createWriteStream(tmp)
        s.pipe(out)
        out.on('finish', resolve)
        out.on('error', reject)
      })
    })
    await new Promise<void>((resolve) => server.listen(sock, resolve))
    try {
      await this.qmp('migrate-set-parameters', { 'max-bandwidth': 8 * 1024 * 1024 * 1024 })
      await this.qmp('migrate', { uri: `unix:${sock}` })
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const info = (await this.qmp('query-migrate')) as { status?: string; 'error-desc'?: string }
        if (info.status === 'completed') break
        if (info.status === 'failed' || info.status === 'cancelled')
          throw new BackendError(`saving the VM state failed: ${info['error-desc'] ?? info.status}`, 'setup')
        if (Date.now() > deadline) throw new BackendError(`saving the VM state took over ${timeoutMs} ms`, 'timeout')
        await new Promise((r) => setTimeout(r, 20))
      }
      await this.until(written, timeoutMs, 'writing the VM state')
      await rename(tmp, file)
      await this.qmp('cont')
    } finally {
      await rm(tmp, { force: true })
      server.close()
    }
  }

  /** Stops QEMU (SIGKILL) and removes the temp dir. Idempotent. */
  async kill(): Promise<void> {
    if (this.proc && !this.exited) {
      const gone = new Promise<void>((resolve) => this.exitWaiters.push(resolve))
      this.proc.kill('SIGKILL')
      await gone
    }
    for (const s of [this.agent, this.qmpSocket, this.consoleSocket]) s?.destroy()
    for (const s of this.servers.splice(0)) s.close()
    if (this.dir) await rm(this.dir, { recursive: true, force: true })
    this.dir = undefined
    this.untrack?.()
    this.untrack = undefined
  }
}
