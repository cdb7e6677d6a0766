import { createHash } from 'node:crypto'
import { access, constants, readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'
import { execa } from 'execa'
import type { BackendOptions } from '../options.js'
import { type Backend, BackendError, type ExecOptions, type ExecResult, type KernelLogRecord, UsageError } from '../types.js'
import { cacheDir, sha256 } from './cache.js'
import { buildInitramfs } from './initramfs.js'
import { chooseKernel, uncompressedKernel } from './kernel.js'
import { execResult } from '../../observe/unrelated.js'
import { kernelFailureError } from '../../observe/kernel-failure.js'
import { parseKmsgRecord } from '../../observe/kmsg.js'
import { parseCommand, scriptCommand } from '../../contract/script.js'
import { firstRunStep } from './progress.js'
import { Vm, type VmConfig, machineArgs } from './vm.js'
import { TreeMirror } from './tree-mirror.js'
import { installedTreeProblem, resolveTree } from '../tree.js'

/** Options of the qemu backend (all optional). */
export interface QemuBackendOptions extends BackendOptions {
  /** Kernel image (bzImage). Default: /boot/vmlinuz-<release>, else the newest one with headers. */
  kernel?: string
  /** Kernel headers (kbuild tree). Default: /lib/modules/<release>/build. */
  headers?: string
  /** Guest memory, as QEMU's -m takes it. Default: "256M". */
  memory?: string
  /** Extra kernel command line arguments. */
  append?: string[]
  /** Milliseconds one command may take before the step fails with kind 'timeout'. Default: 60000. */
  timeout?: number
  /** Same as `timeout` (the name `kmodspec sh --timeout` passes). */
  timeoutMs?: number
  /** Milliseconds a boot or restore may take. Default: 120000. */
  bootTimeout?: number
  /** 'auto' (default; env KMODSPEC_QEMU_ACCEL): KVM when it is proven to work here, else TCG. */
  accel?: 'auto' | 'kvm' | 'tcg'
  /** The QEMU binary. Default: qemu-system-x86_64. */
  qemu?: string
  /**
   * Reuse a saved VM state across processes (default true: in the cache directory). A string is
   * the directory to keep states in instead (an empty one makes the first VM boot and save anew).
   */
  stateCache?: boolean | string
  /**
   * More QEMU machine arguments, e.g. `['-icount', 'shift=0,sleep=off']` to run the guest clock
   * off the instruction count. They are part of the saved state's key.
   */
  qemuArgs?: string[]
  /**
   * Default off. The ssh test VM: an e1000 NIC (its driver is a module, so `e1000` shows in lsmod)
   * on QEMU user-mode networking with `restrict=on` (the guest reaches no network), guest port 22
   * forwarded from 127.0.0.1:sshPort only, and dropbear in the guest accepting `authorizedKey`
   * (one public key line) for root. For testing the ssh backend against a known kernel.
   */
  network?: { sshPort: number; authorizedKey: string }
}

/** Bump when what happens between boot and the state save changes: it is part of the state's cache key. */
const stateRecipe = 'settle(crng,tsc-refined,pointer-key,quiet=1000ms)+clear-log+console-loglevel-8'

/**
 * The state is saved once the guest has logged nothing for this long of its own monotonic time,
 * after its CRNG is seeded and the TSC refinement has run (see the agent's settle request).
 */
const settleQuietMs = 1000
/** A kernel that keeps logging past this (guest time) is not saved: the first VM fails instead. */
const settleMaxMs = 60_000

/**
 * Kernel arguments: quiet console (every console byte is slow under TCG), a panic ends QEMU at once
 * (-no-reboot), and tsc=reliable: no clocksource watchdog, whose checks on a loaded host can mark
 * the TSC unstable and log about it at any moment of any step. Module loading prints the same either way.
 */
const baseAppend = ['console=ttyS0', 'quiet', 'panic=-1', 'tsc=reliable']

/** How long the one-off KVM probe may take to boot a kernel before TCG is chosen. */
const kvmProbeMs = 15_000

/** Places the VM owns: files there are never copied from the host. */
const vmPlaces = ['/lib/modules', '/etc/modprobe.d', '/proc', '/sys', '/dev']

async function exists(file: string, mode = constants.F_OK): Promise<boolean> {
  try {
    await access(file, mode)
    return true
  } catch {
    return false
  }
}

/**
 * Decides KVM or TCG. KVM is tried only when /dev/kvm is usable, with a bounded boot; the verdict
 * is cached per host boot, because a hanging KVM (as on this project's CI machine) costs the timeout.
 */
async function kvmVerdict(): Promise<{ cached?: 'kvm' | 'tcg'; file: string }> {
  let bootId = 'unknown'
  try {
    bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim()
  } catch {}
  const file = path.join(cacheDir(), `kvm-verdict-${bootId}`)
  try {
    const v = (await readFile(file, 'utf8')).trim()
    if (v === 'kvm' || v === 'tcg') return { cached: v, file }
  } catch {}
  return { file }
}

/** The qemu backend, with a few extras for diagnostics and tests. */
export interface QemuBackend extends Backend {
  readonly name: 'qemu'
  /** What the kernel printed on its console (ttyS0) since the last boot or restore. */
  readonly console: string
  /** QEMU's process id, while the VM runs. */
  readonly qemuPid: number | undefined
  /** The running VM's temp dir (removed when it stops). */
  readonly tempDir: string | undefined
}

class QemuBackendImpl implements QemuBackend {
  readonly name = 'qemu' as const
  release: string
  private vm?: Vm
  /** VM path -> content hash of what was uploaded since the last restore. */
  private uploaded = new Map<string, string>()
  private dirs = new Set<string>()
  private closed = false

  constructor(
    private config: VmConfig,
    release: string,
    private readonly stateFile: string | undefined,
    private readonly opts: { timeout: number; bootTimeout: number; authorizedKey?: string },
    vm: Vm,
    /** tree: 'installed': the host's tree, uploaded as commands need it. */
    private readonly tree?: TreeMirror,
  ) {
    this.release = release
    this.vm = vm
  }

  get console(): string {
    return this.vm?.console ?? ''
  }

  get qemuPid(): number | undefined {
    return this.vm?.pid
  }

  get tempDir(): string | undefined {
    return this.vm?.tempDir
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed) throw new UsageError('the qemu backend is closed')
    const vm = this.vm
    if (!vm?.alive) throw new BackendError('the VM is not running (it crashed, hung or died in an earlier step): call reset() for a fresh kernel', 'died')
    // `echo TEXT > FILE`: the agent opens FILE itself, no shell involved.
    const { command, redirect, file } = parseCommand(argv, 'qemu')
    const program = scriptCommand(command[0]!)!.vmPath
    const cwd = path.resolve(options.cwd ?? process.cwd())
    const timeoutMs = options.timeoutMs ?? this.opts.timeout
    if (!this.dirs.has(cwd)) {
      await vm.mkdir(cwd, this.opts.bootTimeout)
      this.dirs.add(cwd)
    }
    for (const word of [...command.slice(1), ...(file ? [file] : [])]) await this.mirror(vm, path.resolve(cwd, word))
    // The installed tree's files this command reads go up first; a depmod of the tree runs on the host (tree-mirror.ts).
    const done = await this.tree?.before(vm, file ? [...command, file] : command, cwd)
    if (done) return done
    const r = await vm.exec({ path: program, argv: command, cwd, redirect, file }, timeoutMs)
    await this.tree?.after(command, cwd, r.status, redirect ? { redirect, file } : undefined)
    const records = r.kmsg.map(parseKmsgRecord).filter((x): x is KernelLogRecord => x !== undefined)
    const result = execResult(argv, { exitCode: r.status, stdout: r.stdout, stderr: r.stderr }, records)
    const failure = kernelFailureError(records, result, { remedy: 'reset() brings a fresh kernel' })
    if (failure) throw failure
    return result
  }

  /** Copies a host file the command names to the same absolute path in the VM (once per content). */
  private async mirror(vm: Vm, hostPath: string): Promise<void> {
    if (vmPlaces.some((p) => hostPath === p || hostPath.startsWith(p + '/'))) return
    let st
    try {
      st = await stat(hostPath)
    } catch {
      return
    }
    if (st.isDirectory()) {
      if (!this.dirs.has(hostPath)) {
        await vm.mkdir(hostPath, this.opts.bootTimeout)
        this.dirs.add(hostPath)
      }
      return
    }
    if (!st.isFile()) return
    const data = await readFile(hostPath)
    const hash = createHash('sha256').update(data).digest('hex')
    if (this.uploaded.get(hostPath) === hash) return
    await vm.put(hostPath, st.mode & 0o7777, data, this.opts.bootTimeout)
    this.uploaded.set(hostPath, hash)
  }

  async reset(): Promise<void> {
    if (this.closed) throw new UsageError('the qemu backend is closed')
    await this.vm?.kill()
    this.vm = undefined
    this.uploaded.clear()
    this.dirs.clear()
    this.tree?.reset()
    this.vm = await startVm(this.config, this.stateFile, this.opts.bootTimeout, this.release)
    await authorize(this.vm, this.opts)
  }

  async close(): Promise<void> {
    this.closed = true
    await this.vm?.kill()
    this.vm = undefined
    await this.tree?.close()
  }
}

/** Restores from the saved state when there is one, else boots and saves it. */
async function startVm(config: VmConfig, stateFile: string | undefined, bootTimeout: number, release: string): Promise<Vm> {
  if (stateFile && (await exists(stateFile))) {
    const vm = new Vm(config)
    try {
      await vm.start({ incoming: stateFile, readyTimeoutMs: bootTimeout })
      return vm
    } catch (error) {
      // A stale or broken state file: boot afresh and replace it.
      if (process.env.KMODSPEC_DEBUG) process.stderr.write(`kmodspec: restoring ${stateFile} failed, booting: ${(error as Error).message}\n`)
      await vm.kill()
    }
  }
  const vm = new Vm(config)
  const label = `booting ${release} under QEMU (${config.accel.toUpperCase()})${stateFile ? ' and saving its settled state for the next tests' : ''}`
  try {
    await firstRunStep(label, async () => {
      await vm.start({ readyTimeoutMs: bootTimeout })
      // Nothing the kernel does on its own after boot may land in a test's step: wait it out first.
      await vm.settle(settleQuietMs, settleMaxMs, bootTimeout)
      // An empty kernel log, as on the simulator: `dmesg` shows only what the test caused.
      await vm.exec({ path: '/bin/dmesg', argv: ['dmesg', '-C'], cwd: '/', redirect: '', file: '' }, bootTimeout)
      // Booted quiet (console bytes are slow under TCG); from now on every record also reaches the
      // console, so a step that hangs or panics still shows what the kernel said.
      await vm.exec({ path: '/bin/busybox', argv: ['echo', '8'], cwd: '/', redirect: '>', file: '/proc/sys/kernel/printk' }, bootTimeout)
      if (stateFile) await vm.save(stateFile, bootTimeout)
    })
    return vm
  } catch (error) {
    await vm.kill()
    throw error
  }
}

/** The ssh test VM: the key goes in after every boot or restore, so the saved state holds no key and serves every test. */
async function authorize(vm: Vm, opts: { bootTimeout: number; authorizedKey?: string }): Promise<void> {
  if (opts.authorizedKey) await vm.put('/root/.ssh/authorized_keys', 0o600, Buffer.from(opts.authorizedKey + '\n'), opts.bootTimeout)
}

async function qemuVersion(qemu: string): Promise<string> {
  const r = await execa(qemu, ['--version'], { reject: false })
  if (r.failed || r.exitCode !== 0) {
    throw new BackendError(`${qemu} is not runnable: install qemu-system-x86 (npm run vm:setup does it on Debian)`, 'setup')
  }
  return r.stdout.split('\n')[0]! // split() gives at least one string
}

/**
 * Creates the qemu backend: boots the kernel under QEMU (or restores the cached state of a
 * booted one) with kmodspec's initramfs, ready for commands.
 *
 * @example
 * const backend = await createQemuBackend({ memory: '256M' })
 * const r = await backend.exec(['insmod', 'fixtures/hello/hello_api.ko'])
 */
export async function createQemuBackend(options: QemuBackendOptions = {}): Promise<QemuBackend> {
  const {
    kernel: kernelOption,
    release: releaseOption,
    headers,
    memory = '256M',
    append = [],
    timeoutMs,
    timeout = timeoutMs ?? 60_000,
    bootTimeout = 120_000,
    accel = (process.env.KMODSPEC_QEMU_ACCEL as QemuBackendOptions['accel']) ?? 'auto',
    qemu = 'qemu-system-x86_64',
    stateCache = true,
    qemuArgs = [],
    network,
  } = options
  let tree
  try {
    tree = resolveTree(options.tree)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  if (!['auto', 'kvm', 'tcg'].includes(accel)) throw new UsageError(`accel '${accel}' is not one of auto, kvm, tcg`)
  if (!/^\d+[MG]?$/.test(memory)) throw new UsageError(`memory '${memory}' is not a QEMU size such as 256M`)
  if (!Array.isArray(qemuArgs) || !qemuArgs.every((a) => typeof a === 'string'))
    throw new UsageError("qemuArgs takes an array of strings, e.g. ['-icount', 'shift=0,sleep=off']")
  if (typeof stateCache === 'string' && !(await exists(stateCache)))
    throw new UsageError(`stateCache directory ${stateCache} does not exist: create it, or pass true for the default cache`)
  if (network !== undefined) {
    const { sshPort, authorizedKey } = network as Partial<NonNullable<QemuBackendOptions['network']>>
    if (!Number.isInteger(sshPort) || sshPort! < 1 || sshPort! > 65535)
      throw new UsageError(`network.sshPort '${String(sshPort)}' is not a TCP port number (1-65535)`)
    if (typeof authorizedKey !== 'string' || !/^(ssh-|ecdsa-|sk-)\S+ \S+/.test(authorizedKey.trim()) || authorizedKey.trim().includes('\n')) {
      throw new UsageError('network.authorizedKey takes one public key line, e.g. the contents of id_ed25519.pub')
    }
  }
  const version = await qemuVersion(qemu)
  const kernel = await chooseKernel({ kernel: kernelOption, release: releaseOption, headers })
  const treeProblem = tree === 'installed' ? installedTreeProblem(kernel.release) : undefined
  if (treeProblem) throw new BackendError(treeProblem, 'setup')
  const [image, initramfs] = await Promise.all([uncompressedKernel(kernel.image), buildInitramfs(kernel.release, { ssh: network !== undefined })])
  const base = {
    qemu,
    kernel: image,
    initramfs: initramfs.file,
    memory,
    append: [...baseAppend, ...append],
    ...(network ? { network: { sshPort: network.sshPort } } : {}),
    ...(qemuArgs.length > 0 ? { extraArgs: [...qemuArgs] } : {}),
  }
  const stateDir = typeof stateCache === 'string' ? stateCache : cacheDir()
  // The forwarded port is not part of the machine: one saved state serves every port.
  const stateFor = (c: VmConfig): string | undefined =>
    stateCache
      ? path.join(
          stateDir,
          `state-${sha256(version, JSON.stringify(machineArgs({ ...c, ...(c.network ? { network: { sshPort: 0 } } : {}) })), initramfs.hash, stateRecipe).slice(0, 20)}.bin`,
        )
      : undefined
  const opts = { timeout, bootTimeout, authorizedKey: network?.authorizedKey.trim() }

  let chosen: 'kvm' | 'tcg' = accel === 'auto' ? 'tcg' : accel
  let vm: Vm | undefined
  if (accel === 'auto' && (await exists('/dev/kvm', constants.R_OK | constants.W_OK))) {
    const verdict = await kvmVerdict()
    if (verdict.cached === 'kvm' || verdict.cached === undefined) {
      const config: VmConfig = { ...base, accel: 'kvm' }
      // The probe can cost its whole bound on a host where KVM hangs: say so, once per host boot.
      if (verdict.cached === undefined)
        process.stderr.write(
          `kmodspec: /dev/kvm exists: probing whether KVM boots a kernel here (at most ${kvmProbeMs / 1000} s, once per host boot; KMODSPEC_QEMU_ACCEL=tcg or =kvm skips it)\n`,
        )
      const probeStarted = Date.now()
      try {
        // A working KVM boots in about a second; one that hangs must not hold the run.
        vm = await startVm(config, stateFor(config), verdict.cached === 'kvm' ? bootTimeout : kvmProbeMs, kernel.release)
        chosen = 'kvm'
      } catch {
        vm = undefined
      }
      if (verdict.cached === undefined) {
        const took = ((Date.now() - probeStarted) / 1000).toFixed(1)
        process.stderr.write(
          chosen === 'kvm'
            ? `kmodspec: KVM works (${took} s); using it\n`
            : `kmodspec: KVM did not boot a kernel within ${took} s; using TCG from now on (verdict kept in ${verdict.file})\n`,
        )
      }
      await writeFile(verdict.file, chosen).catch(() => {})
    }
  }
  const config: VmConfig = { ...base, accel: chosen }
  vm ??= await startVm(config, stateFor(config), bootTimeout, kernel.release)
  try {
    await authorize(vm, opts)
  } catch (error) {
    await vm.kill()
    throw error
  }
  return new QemuBackendImpl(config, kernel.release, stateFor(config), opts, vm, tree === 'installed' ? new TreeMirror(kernel.release) : undefined)
}
