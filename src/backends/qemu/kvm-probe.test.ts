// The one-off KVM probe says what it does and what it found (issue 15): a host where /dev/kvm
// exists but hangs spends up to the probe's bound on the first VM, and must not do so silently.
// Runs the built CLI from an empty cache, as a new machine would. Needs the VM: never skipped.
import { constants } from 'node:fs'
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { expect, test } from 'vitest'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')

async function usableKvm(): Promise<boolean> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK)
    return true
  } catch {
    return false
  }
}

test('the first VM of a host boot says it probes KVM and what it found; later ones do not probe', async () => {
  const cache = await mkdtemp(path.join(os.tmpdir(), 'kmodspec-kvm-probe-'))
  try {
    const script = path.join(cache, 'lsmod.sh')
    await writeFile(script, 'lsmod\n')
    // The probe runs only for accel 'auto', the default: a CI setting of KMODSPEC_QEMU_ACCEL must not leak in.
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: cache }
    delete env.KMODSPEC_QEMU_ACCEL
    const run = () =>
      execa(process.execPath, [path.join(root, 'dist/cli/kmodspec.cjs'), 'sh', '--backend', 'qemu', script], {
        cwd: root,
        env,
        extendEnv: false,
        reject: false,
      })
    const first = await run()
    expect(first.exitCode, first.stderr).toBe(0)
    const probeLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('kmodspec: /dev/kvm') || l.startsWith('kmodspec: KVM '))
    if (await usableKvm()) {
      const [said, found] = probeLines(first.stderr)
      expect(said).toBe(
        'kmodspec: /dev/kvm exists: probing whether KVM boots a kernel here (at most 15 s, once per host boot; KMODSPEC_QEMU_ACCEL=tcg or =kvm skips it)',
      )
      expect(found).toMatch(
        /^kmodspec: (KVM works \(\d+\.\d s\); using it|KVM did not boot a kernel within \d+\.\d s; using TCG from now on \(verdict kept in .*kvm-verdict-[\w-]+\))$/,
      )
    } else {
      expect(probeLines(first.stderr)).toEqual([])
    }
    // The verdict is kept for this host boot: the next VM neither probes nor says so.
    const second = await run()
    expect(second.exitCode, second.stderr).toBe(0)
    expect(probeLines(second.stderr)).toEqual([])
  } finally {
    await rm(cache, { recursive: true, force: true })
  }
}, 300_000)
