/**
 * The fuzz runner: each case puts one corrupted module (and one good one) into a fresh simulated
 * machine and runs modinfo, insmod, lsmod, rmmod, depmod and modprobe on it. A case fails on an
 * exception out of a tool (anything but the kernel's own oops or lockup), on a command slower than
 * its size-proportional bound (a hang), or on a machine left broken (a crash: depmod lost the good
 * module, /proc/modules unreadable, an exit code that is not a small integer).
 */
import { performance } from 'node:perf_hooks'
import type { KernelProfile } from '../../profile/types.js'
import { createSimKernel } from '../kernel/index.js'
import { SimKernelFault } from '../kernel/exec.js'
import { runTool } from '../tools/index.js'
import type { ToolContext } from '../tools/context.js'
import { Vfs } from '../vfs.js'
import { caseRandom, mutate } from './mutate.js'

/** A well-formed module the mutants start from. */
export interface FuzzBase {
  name: string
  bytes: Uint8Array
}

export interface FuzzFailure {
  seed: number
  caseNo: number
  kind: 'exception' | 'hang' | 'crash'
  /** The command that failed, as argv. */
  command: string
  detail: string
  /** The base module and the mutations (enough to rebuild the file without the seed). */
  base: string
  how: string[]
}

export interface FuzzCaseResult {
  failures: FuzzFailure[]
  /** Kernel faults the simulator reported as the real kernel would (oops, soft lockup): not failures. */
  kernelFaults: number
}

/**
 * Per-command time bound: what only a real hang exceeds. The simulator bounds its own work (module
 * code stops at the CPU's instruction budget, about a second here), so the bound is far above any
 * host's speed: a verdict must not depend on how fast or busy the machine is.
 */
export function commandBoundMs(fileSize: number): number {
  return 30_000 + fileSize / 100
}

const GOOD = 'fuzz_good'

/**
 * Run case `caseNo` of `seed`: mutate one base (chosen by the case's random source) and exercise the tools.
 * @example runFuzzCase(profile, bases, 1, 0).failures // []
 */
export function runFuzzCase(profile: KernelProfile, bases: readonly FuzzBase[], seed: number, caseNo: number, good?: FuzzBase): FuzzCaseResult {
  const [first] = bases
  if (!first) throw new RangeError('runFuzzCase needs at least one base module (fixtureBases() gives them)')
  good ??= first
  const rand = caseRandom(seed, caseNo)
  // rand() is a non-negative integer and bases is not empty.
  const base = bases[rand() % bases.length]!
  const { bytes, how } = mutate(base.bytes, rand)
  const kernel = createSimKernel({ profile })
  const vfs = new Vfs({ release: profile.release, kernel })
  const dir = `/lib/modules/${profile.release}`
  vfs.mkdir(`${dir}/extra`, true)
  const file = `${dir}/extra/fz.ko`
  vfs.writeFile(file, bytes)
  vfs.writeFile(`${dir}/extra/${GOOD}.ko`, good.bytes)
  const failures: FuzzFailure[] = []
  let kernelFaults = 0
  let out = ''
  const ctx: ToolContext = { kernel, vfs, profile, release: profile.release, cwd: '/', out: (t) => void (out += t), err: () => undefined }
  const bound = commandBoundMs(bytes.length)
  const fail = (kind: FuzzFailure['kind'], argv: string[], detail: string) =>
    failures.push({ seed, caseNo, kind, command: argv.join(' '), detail, base: base.name, how })
  let lastCode = 0
  const run = (argv: string[]): string | undefined => {
    out = ''
    lastCode = -1
    const start = performance.now()
    try {
      const code = runTool(ctx, argv)
      lastCode = code
      if (!Number.isInteger(code) || code < 0 || code > 255) fail('crash', argv, `exit code ${String(code)}`)
    } catch (e) {
      if (e instanceof SimKernelFault) kernelFaults++
      else fail('exception', argv, e instanceof Error ? (e.stack ?? e.message) : String(e))
      return undefined
    } finally {
      const ms = performance.now() - start
      if (ms > bound) fail('hang', argv, `took ${ms.toFixed(0)} ms (bound ${bound.toFixed(0)} ms for ${bytes.length} bytes)`)
    }
    return out
  }

  run(['modinfo', file])
  run(['modinfo', '-F', 'alias', file])
  run(['insmod', file])
  run(['lsmod'])
  const loaded = (run(['cat', '/proc/modules']) ?? '')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[0]!)
  if (kernel.readFile('/proc/modules') === undefined) fail('crash', ['cat', '/proc/modules'], '/proc/modules is unreadable')
  for (const name of loaded) run(['rmmod', name])
  run(['depmod'])
  const depmodCode = lastCode
  let dep: string
  try {
    dep = vfs.readText(`${dir}/modules.dep`)
  } catch {
    dep = ''
  }
  // A non-zero exit is kmod's own refusal (a dependency cycle: exit 1; an assert() in libkmod: 134): no index then either.
  if (depmodCode === 0 && !dep.includes(`extra/${GOOD}.ko:`)) fail('crash', ['depmod'], `modules.dep lost the good module:\n${dep}`)
  run(['modprobe', 'fz'])
  run(['modprobe', '-r', 'fz'])
  run(['modprobe', '-n', '-v', GOOD])
  return { failures, kernelFaults }
}

/** One line that names a failure and how to reproduce it. */
export function describeFailure(f: FuzzFailure): string {
  return `fuzz ${f.kind}: seed ${f.seed} case ${f.caseNo} (${f.base}: ${f.how.join('; ')}) '${f.command}': ${f.detail.split('\n').slice(0, 6).join('\n    ')}\n  reproduce: npm run fuzz -- --seed ${f.seed} --from ${f.caseNo} --cases 1`
}
