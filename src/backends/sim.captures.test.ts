// Differential test: every script the VM helper ran on a real kernel (fixtures/captures, one set per
// release) runs on the simulator of that release and must print the same, after normalizing timestamps
// and addresses only. Another release's scripts run from a fixture tree built for it (built here when the
// cache lacks it: about 1.5 min a release).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { releaseFixtures } from '../build/release-fixtures.js'
import { loadEmbeddedProfile, profileForRelease, type KernelProfile } from '../profile/index.js'
import { parseScript } from '../cli/script.js'
import { captureDir, captureFiles, capturedReleasesToRun, readCapture, scriptForRelease } from './captures.js'
import { normalizeStep, reportHead, type TranscriptStep } from './normalize.js'
import { BackendError } from './types.js'
import { createSimBackend } from './sim.js'

const root = process.cwd()

const { run, skipped } = capturedReleasesToRun(root)
for (const release of skipped) test.skip(`${release}: npm run test:matrix replays its captures (it installs the kernel)`, () => {})
for (const release of run) {
  const capturesDir = captureDir(root, release)
  const captures = captureFiles(root, release)

  describe(`the simulator of ${release} prints what its real kernel printed`, () => {
    /** The directory the scripts run from: its fixtures/ holds modules built for this release. */
    let cwd: string
    /** Read once for the release's tests: its Module.symvers is some 30,000 lines. */
    let profile: KernelProfile
    beforeAll(async () => {
      profile = release === loadEmbeddedProfile().release ? loadEmbeddedProfile() : await profileForRelease(release)
      cwd = await releaseFixtures(release)
    })

    test('captures exist to compare with', () => {
      expect(captures.length, `no ${capturesDir}/*.json: run node scripts/capture.mjs --release ${release} (after npm run build)`).toBeGreaterThan(0)
    })

    for (const file of captures) {
      const name = file.replace(/\.json$/, '')
      test(name, async () => {
        const capture = readCapture(join(capturesDir, file), cwd)
        expect(capture.release, `${file} was captured on another kernel`).toBe(release)
        const expected = capture.commands
        const commands = parseScript(scriptForRelease(readFileSync(join(root, 'fixtures/scripts', `${name}.sh`), 'utf8'), release))
        expect(
          commands.map((c) => c.text),
          `${name}.sh and its capture list different commands: re-capture`,
        ).toEqual(expected.map((e) => e.cmd))
        const sim = await createSimBackend({ profile })
        try {
          for (const [i, command] of commands.entries()) {
            const want = expected[i] as TranscriptStep & { error?: { kind: string; report: string } }
            if (want.error) {
              // The kernel failed under this command: the same kind, and the report as far as it is the kernel's words.
              const error = await sim.exec(command.argv, { cwd }).then(
                () => undefined,
                (e: unknown) => e,
              )
              expect(error, `${name}.sh line ${command.line}: ${command.text} should fail as the kernel did`).toBeInstanceOf(BackendError)
              expect((error as BackendError).kind).toBe(want.error.kind)
              expect(reportHead((error as BackendError).report)).toBe(reportHead(want.error.report))
              break
            }
            const r = await sim.exec(command.argv, { cwd })
            const actual: TranscriptStep = { cmd: command.text, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, dmesg: r.dmesg.map((d) => d.text) }
            expect(normalizeStep(actual), `${name}.sh line ${command.line}: ${command.text}`).toEqual(normalizeStep(expected[i]!))
          }
        } finally {
          await sim.close()
        }
      })
    }
  })
}
