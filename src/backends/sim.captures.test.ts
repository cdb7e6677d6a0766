// Differential test: every script the VM helper ran on the real kernel (fixtures/captures) runs
// on the simulator and must print the same, after normalizing timestamps and addresses only.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { parseScript } from '../cli/script.js'
import { readCapture } from './captures.js'
import { normalizeStep, reportHead, type TranscriptStep } from './normalize.js'
import { BackendError } from './types.js'
import { createSimBackend } from './sim.js'

const root = process.cwd()
const capturesDir = join(root, 'fixtures/captures')
const captures = existsSync(capturesDir) ? readdirSync(capturesDir).filter((f) => f.endsWith('.json')).sort() : []

describe('the simulator prints what the real kernel printed', () => {
  test('captures exist to compare with', () => {
    expect(captures.length, 'no fixtures/captures/*.json: run node scripts/capture.mjs (after npm run build)').toBeGreaterThan(0)
  })

  for (const file of captures) {
    const name = file.replace(/\.json$/, '')
    test(name, async () => {
      const expected = readCapture(join(capturesDir, file), root).commands
      const commands = parseScript(readFileSync(join(root, 'fixtures/scripts', `${name}.sh`), 'utf8'))
      expect(commands.map((c) => c.text), `${name}.sh and its capture list different commands: re-capture`).toEqual(expected.map((e) => e.cmd))
      const sim = await createSimBackend()
      try {
        for (const [i, command] of commands.entries()) {
          const want = expected[i] as TranscriptStep & { error?: { kind: string; report: string } }
          if (want.error) {
            // The kernel failed under this command: the same kind, and the report as far as it is the kernel's words.
            const error = await sim.exec(command.argv, { cwd: root }).then(() => undefined, (e: unknown) => e)
            expect(error, `${name}.sh line ${command.line}: ${command.text} should fail as the kernel did`).toBeInstanceOf(BackendError)
            expect((error as BackendError).kind).toBe(want.error.kind)
            expect(reportHead((error as BackendError).report)).toBe(reportHead(want.error.report))
            break
          }
          const r = await sim.exec(command.argv, { cwd: root })
          const actual: TranscriptStep = { cmd: command.text, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, dmesg: r.dmesg.map((d) => d.text) }
          expect(normalizeStep(actual), `${name}.sh line ${command.line}: ${command.text}`).toEqual(normalizeStep(expected[i]!))
        }
      } finally {
        await sim.close()
      }
    })
  }
})
