import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { dir as tmpDir } from 'tmp-promise'
import { expect, test } from 'vitest'
import { PROJECT_PLACEHOLDER, readCapture, toStored, type Capture } from './captures.js'

const capture: Capture = {
  script: 'fixtures/scripts/x.sh',
  release: '6.1.0-56-amd64',
  commands: [
    { cmd: 'modinfo fixtures/a.ko', exitCode: 0, stdout: 'filename:       /home/me/kmodspec/fixtures/a.ko\n', stderr: '', dmesg: ['at /home/me/kmodspec'] },
    { cmd: 'insmod fixtures/crash.ko', error: { kind: 'oops', message: 'the kernel reported an oops', report: 'BUG: ...' } } as never,
  ],
}

test('the project root is stored as a placeholder and read back as the checkout it is read in', async () => {
  const stored = toStored(capture, '/home/me/kmodspec')
  expect(stored.commands[0]!.stdout).toBe(`filename:       ${PROJECT_PLACEHOLDER}/fixtures/a.ko\n`)
  expect(stored.commands[0]!.dmesg).toEqual([`at ${PROJECT_PLACEHOLDER}`])
  expect(stored.commands[1]).toEqual(capture.commands[1])
  const dir = await tmpDir({ unsafeCleanup: true })
  try {
    await writeFile(join(dir.path, 'x.json'), JSON.stringify(stored))
    const back = readCapture(join(dir.path, 'x.json'), '/ci/checkout')
    expect(back.commands[0]!.stdout).toBe('filename:       /ci/checkout/fixtures/a.ko\n')
    expect(back.commands[1]).toEqual(capture.commands[1])
    await writeFile(join(dir.path, 'bad.json'), '{"release": "x"}')
    expect(() => readCapture(join(dir.path, 'bad.json'), '/')).toThrow(/bad\.json is not a capture \(no commands\): rerun node scripts\/capture\.mjs/)
  } finally {
    await dir.cleanup()
  }
})

test('one capture set per release: the pinned one in fixtures/captures, the others in fixtures/captures/<release>', async () => {
  const { mkdir } = await import('node:fs/promises')
  const { captureDir, captureReleases, capturedReleasesToRun, scriptForRelease } = await import('./captures.js')
  const dir = await tmpDir({ unsafeCleanup: true })
  try {
    await mkdir(join(dir.path, 'fixtures/captures/6.12.117+deb12-amd64'), { recursive: true })
    await mkdir(join(dir.path, 'fixtures/captures/empty-dir'), { recursive: true })
    await writeFile(join(dir.path, 'fixtures/captures/6.12.117+deb12-amd64/x.json'), '{}')
    expect(captureReleases(dir.path)).toEqual(['6.1.0-56-amd64', '6.12.117+deb12-amd64'])
    expect(captureDir(dir.path, '6.1.0-56-amd64')).toBe(join(dir.path, 'fixtures/captures'))
    expect(captureDir(dir.path, '6.12.117+deb12-amd64')).toBe(join(dir.path, 'fixtures/captures/6.12.117+deb12-amd64'))
    expect(capturedReleasesToRun(dir.path, {})).toEqual({ run: ['6.1.0-56-amd64'], skipped: ['6.12.117+deb12-amd64'] })
    expect(capturedReleasesToRun(dir.path, { KMODSPEC_CAPTURE_RELEASES: 'all' }).run).toEqual(['6.1.0-56-amd64', '6.12.117+deb12-amd64'])
    expect(capturedReleasesToRun(dir.path, { KMODSPEC_CAPTURE_RELEASES: '6.12.117+deb12-amd64' })).toEqual({
      run: ['6.12.117+deb12-amd64'],
      skipped: ['6.1.0-56-amd64'],
    })
    expect(() => capturedReleasesToRun(dir.path, { KMODSPEC_CAPTURE_RELEASES: '5.10.0-1-amd64' })).toThrow(
      /5\.10\.0-1-amd64, which has no capture set: use 'all' or some of 6\.1\.0-56-amd64, 6\.12\.117\+deb12-amd64/,
    )
  } finally {
    await dir.cleanup()
  }
  expect(scriptForRelease('cp a /lib/modules/6.1.0-56-amd64\ndepmod -b /lib/modules/6.1.0-56-amd64/x', '6.1.0-56-rt-amd64')).toBe(
    'cp a /lib/modules/6.1.0-56-rt-amd64\ndepmod -b /lib/modules/6.1.0-56-rt-amd64/x',
  )
})
