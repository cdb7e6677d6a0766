// The parsers read what the real kernel and kmod printed: every captured lsmod, /proc/modules
// and failed kmod command from the VM (fixtures/captures) must parse and classify.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import process from 'node:process'
import { expect, test } from 'vitest'
import { readCapture } from '../backends/captures.js'
import { classifyFailure, ERROR_KINDS, parseLsmod, parseProcModules } from './index.js'

const dir = join(process.cwd(), 'fixtures/captures')
const steps = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .flatMap((f) => readCapture(join(dir, f), process.cwd()).commands.map((c) => ({ ...c, where: `${f}: ${c.cmd}` })))
  .filter((c) => c.stdout !== undefined)

test('every captured lsmod parses, one row a module', () => {
  const lsmods = steps.filter((s) => s.cmd === 'lsmod')
  expect(lsmods.length).toBeGreaterThan(10)
  for (const s of lsmods) {
    const rows = parseLsmod(s.stdout)
    expect(rows.length, s.where).toBe(s.stdout.trim().split('\n').length - 1)
    for (const row of rows) expect(row.usedBy, s.where).toBeGreaterThanOrEqual(row.holders.length)
  }
})

test('every captured /proc/modules parses and agrees with itself', () => {
  const procs = steps.filter((s) => s.cmd === 'cat /proc/modules' && s.exitCode === 0)
  expect(procs.length).toBeGreaterThan(3)
  for (const s of procs) {
    const modules = parseProcModules(s.stdout)
    expect(modules.length, s.where).toBe(s.stdout.trim() === '' ? 0 : s.stdout.trim().split('\n').length)
    for (const m of modules) expect(m.state, s.where).toMatch(/^(Live|Loading|Unloading)$/)
  }
})

test('every failed insmod, rmmod and modprobe in the captures gets a kind of its own', () => {
  const failed = steps.filter((s) => /^(insmod|rmmod|modprobe)\b/.test(s.cmd) && s.exitCode !== 0)
  expect(failed.length).toBeGreaterThan(15)
  const kinds = new Map<string, string>()
  for (const s of failed) {
    const error = classifyFailure({
      exitCode: s.exitCode,
      stderr: s.stderr,
      dmesg: s.dmesg.map((text, seq) => ({ seq, level: 4, facility: 0, timestampUs: 0, text })),
    })
    expect(error?.kind, `${s.where}\n${s.stderr}`).toBeDefined()
    // modprobe -q says nothing by design: there is nothing to classify, only the exit code.
    if (s.stderr === '' && s.dmesg.length === 0) {
      expect(error!.kind, s.where).toBe('failed')
      continue
    }
    expect(error!.kind, `${s.where}\n${s.stderr}`).not.toBe('failed')
    kinds.set(error!.kind, s.where)
  }
  // The captures cover every kind the DSL names, but three: 'failed' (nothing to classify), 'not-permitted' and
  // 'vermagic': the conformance suite makes those on each backend.
  const notCaptured = ['failed', 'not-permitted', 'vermagic']
  expect([...kinds.keys()].sort()).toEqual(expect.arrayContaining(ERROR_KINDS.filter((k) => !notCaptured.includes(k))))
})
