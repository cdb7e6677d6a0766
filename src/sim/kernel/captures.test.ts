// The loader against the real kernel: every fixtures/scripts capture whose commands stay within
// the loader (insmod, rmmod, cat, ls, echo >, dmesg, lsmod) is replayed on the simulated kernel
// through its syscalls, and each command's kernel log lines, file contents and sizes must match: on every release
// with a capture set (fixtures/captures, fixtures/captures/<release>), from a fixture tree built for it.
import { existsSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { captureDir, captureFiles, capturedReleasesToRun, readCapture } from '../../backends/captures.js'
import { releaseFixtures } from '../../build/release-fixtures.js'
import { loadEmbeddedProfile, profileForRelease, type KernelProfile } from '../../profile/index.js'
import { createSimKernel, MODULE_INIT_IGNORE_MODVERSIONS, MODULE_INIT_IGNORE_VERMAGIC, O_NONBLOCK, O_TRUNC } from './index.js'
import type { SimKernel } from './types.js'
import { normalizeText, reportHead } from '../../backends/normalize.js'
import { findKernelFailure } from '../../observe/kernel-failure.js'
import { SimKernelFault } from './exec.js'

interface Step {
  cmd: string
  exitCode: number
  stdout: string
  stderr: string
  dmesg: string[]
  /** The kernel failed during the command (oops, WARNING...): then there is no exit code. */
  error?: { kind: string; report: string }
}

const project = process.cwd()
/** Commands that change state outside the loader: scripts using them are the tools' to replay. */
const OUTSIDE = new Set(['modprobe', 'depmod'])

/** Split a command line the way the script language does (quotes and backslashes). */
function words(line: string): string[] {
  const out: string[] = []
  let cur = ''
  let has = false
  let q: string | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (q) {
      if (c === q) q = undefined
      else if (c === '\\' && q === '"' && i + 1 < line.length) cur += line[++i]
      else cur += c
    } else if (c === '"' || c === "'") {
      q = c
      has = true
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i]
      has = true
    } else if (/\s/.test(c)) {
      if (has) out.push(cur)
      cur = ''
      has = false
    } else {
      cur += c
      has = true
    }
  }
  if (has) out.push(cur)
  return out
}

/** lsmod's lines as {size, used, holders (as a set)} by module name. */
function lsmodTable(text: string) {
  return text
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => {
      const [name, size, used, holders = ''] = l.split(/\s+/)
      return { name, size: Number(size), used: Number(used), holders: holders.split(',').filter(Boolean).sort() }
    })
}

function procTable(text: string) {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name = '', size, used, holders = '-'] = l.split(' ')
      return { name, size: Number(size), used: Number(used), holders: holders === '-' ? [] : holders.split(',').filter(Boolean).sort() }
    })
}

function replay(k: SimKernel, step: Step, where: string, root: string): void {
  const argv = words(step.cmd)
  const from = k.log.nextSeq()
  const [cmd, ...args] = argv
  let failed: boolean | undefined
  let stdout: string | undefined
  k.tick(1000)
  if (cmd === 'insmod') {
    const force = args[0] === '-f'
    const [file = '', ...params] = force ? args.slice(1) : args
    const flags = force ? MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC : 0
    // insmod joins its parameter words with single spaces, quoting nothing (kmod 30).
    const path = join(root, file)
    let fault: SimKernelFault | undefined
    try {
      failed = !existsSync(path) || k.finitModule(readFileSync(path), params.join(' '), flags) !== 0
    } catch (e) {
      if (!(e instanceof SimKernelFault)) throw e
      fault = e
    }
    if (step.error) {
      // The kernel failed: the same kind, and the report as far as it is the kernel's words (diff's reportHead).
      const failure = fault ? { kind: fault.kind, report: fault.report } : findKernelFailure(k.log.since(from))
      expect(failure?.kind, `${where}: kernel failure`).toBe(step.error.kind)
      expect(reportHead(failure?.report ?? ''), `${where}: report`).toBe(reportHead(step.error.report))
      return
    }
    expect(fault, `${where}: the simulated kernel failed: ${fault?.report}`).toBeUndefined()
  } else if (cmd === 'rmmod') {
    const force = args[0] === '-f'
    failed = false
    for (const name of force ? args.slice(1) : args) {
      if (k.deleteModule(name, O_NONBLOCK | (force ? O_TRUNC : 0)) !== 0) failed = true
    }
  } else if (cmd === 'cat') {
    const texts = args.map((f) => k.readFile(f))
    failed = texts.some((t) => t === undefined)
    stdout = texts.map((t) => t ?? '').join('')
  } else if (cmd === 'ls') {
    const list = k.listDir(args[0]!)
    failed = list === undefined
    expect(failed, `${where}: exit`).toBe(step.exitCode !== 0)
    if (list) expect(list, `${where}: entries`).toEqual(step.stdout.split(/\s+/).filter(Boolean).sort())
  } else if (cmd === 'echo') {
    const gt = args.indexOf('>')
    failed = k.writeFile(args[gt + 1]!, args.slice(0, gt).join(' ') + '\n') !== 0
  } else if (cmd === 'dmesg') {
    if (args.includes('-C') || args.includes('-c')) k.log.clear()
  } else if (cmd === 'lsmod') {
    // lsmod's size is /sys/module/<m>/coresize (kmod_module_get_size), not /proc/modules' core + init.
    const table = procTable(k.readFile('/proc/modules') ?? '').map((m) => ({ ...m, size: Number(k.readFile(`/sys/module/${m.name}/coresize`) ?? m.size) }))
    expect(table, `${where}: lsmod`).toEqual(lsmodTable(step.stdout))
  }
  if (failed !== undefined) expect(failed, `${where}: exit code ${step.exitCode}`).toBe(step.exitCode !== 0)
  if (stdout !== undefined && !failed) expect(stdout, `${where}: stdout`).toBe(step.stdout)
  // normalizeText: %p's boot-keyed hash is the one part of a module's line the simulator cannot know.
  expect(
    k.log.since(from).map((r) => normalizeText(r.text)),
    `${where}: kernel log`,
  ).toEqual(step.dmesg.map(normalizeText))
}

const { run, skipped } = capturedReleasesToRun(project)
for (const release of skipped) test.skip(`${release}: npm run test:matrix replays its captures (it installs the kernel)`, () => {})
for (const release of run) {
  const dir = captureDir(project, release)
  const files = captureFiles(project, release)
  describe(`the loader does what the real ${release} kernel did (${relative(project, dir)})`, () => {
    /** Where the release's scripts ran from: its fixtures/ holds modules built for it. */
    let root: string
    let profile: KernelProfile
    beforeAll(async () => {
      profile = release === loadEmbeddedProfile().release ? loadEmbeddedProfile() : await profileForRelease(release)
      root = await releaseFixtures(release)
    })
    test('captures exist', () => {
      expect(files.length, `no ${dir}/*.json yet: the VM capture writes them`).toBeGreaterThan(0)
    })
    for (const f of files) {
      const steps = readCapture(join(dir, f), project).commands as Step[]
      if (steps.some((s) => OUTSIDE.has(words(s.cmd)[0]!))) continue
      test(f.replace(/\.json$/, ''), () => {
        const k = createSimKernel({ profile })
        for (const [i, s] of readCapture(join(dir, f), root).commands.entries()) replay(k, s as Step, `${f} step ${i + 1} (${s.cmd})`, root)
      })
    }
  })
}
