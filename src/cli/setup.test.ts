// kmodspec setup on this machine, with the environment injected where a test cannot change it: another
// os-release, another uid, a PATH whose sudo records what it was asked to run.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { withDir } from 'tmp-promise'
import { expect, test } from 'vitest'
import { installedReleases } from './releases.js'
import { setup, type SetupIo } from './setup.js'

async function run(argv: string[], io: Partial<SetupIo> = {}) {
  let out = ''
  let err = ''
  const code = await setup(argv, { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, aptOutput: 'ignore', ...io })
  return { code, out, err }
}

const releases = () =>
  installedReleases()
    .map((r) => r.release)
    .join(', ')

test('elsewhere than Debian or Ubuntu it lists the packages and exits 1', async () => {
  await withDir(
    async ({ path: dir }) => {
      const osRelease = path.join(dir, 'os-release')
      await writeFile(osRelease, 'NAME="Fedora Linux"\nID=fedora\nPRETTY_NAME="Fedora Linux 40"\n')
      const r = await run(['--release', '6.12.117+deb12-amd64'], { osRelease })
      expect(r.code).toBe(1)
      expect(r.out).toBe('')
      expect(r.err).toMatchInlineSnapshot(`
      "kmodspec setup: this is Fedora Linux 40, not Debian or Ubuntu: install your distribution's equivalents of these Debian packages yourself:
        qemu-system-x86                     QEMU for x86_64
        kmod                                insmod, modprobe, depmod, modinfo (kmod 30)
        busybox-static                      a static busybox for the VM
        cpio                                to pack the initramfs
        gcc                                 kbuild (the C compiler)
        make                                kbuild (make -C <headers> M=<dir>)
        libc6-dev                           a static libc for the VM agent
        xz-utils                            xz-compressed modules
        zstd                                zstd-compressed modules
        dropbear-bin                        the ssh backend test VM
        openssh-client                      the ssh backend
        linux-image-6.12.117+deb12-amd64    the kernel image of 6.12.117+deb12-amd64 (/boot/vmlinuz-6.12.117+deb12-amd64)
        linux-headers-6.12.117+deb12-amd64  its headers (/lib/modules/6.12.117+deb12-amd64/build)
      "
    `)
    },
    { unsafeCleanup: true },
  )
})

test('as a user without sudo it prints the apt-get line for root and exits 1', async () => {
  const r = await run(['--release', '6.1.0-55-amd64'], { uid: 1000, path: '/nonexistent' })
  expect(r.code).toBe(1)
  expect(r.err).toBe(
    'kmodspec setup: installing packages needs root and there is no sudo here: as root, run\n  apt-get install -y linux-image-6.1.0-55-amd64 linux-headers-6.1.0-55-amd64\n',
  )
})

// Runs the real apt-get update (as root here), so the look-ups of the tests after it see a fresh archive list.
test('a release apt does not have names the installed ones and the ones apt offers', async () => {
  const r = await run(['--release', '6.99.0-1-amd64'])
  expect(r.code).toBe(1)
  expect(r.err).toMatch(
    new RegExp(
      `^kmodspec setup: apt has no kernel 6\\.99\\.0-1-amd64 \\(no linux-image-6\\.99\\.0-1-amd64, linux-headers-6\\.99\\.0-1-amd64\\)\\. Installed releases: ${releases().replace(/[.+]/g, '\\$&')}\\. Releases apt offers: .*6\\.1\\.0-56-amd64.*6\\.12\\.117\\+deb12-amd64.*: pick one with --release R\\.\\n$`,
    ),
  )
}, 60_000)

test('as a user with sudo it runs apt-get through sudo and times each step', async () => {
  await withDir(
    async ({ path: dir }) => {
      // A sudo that records its arguments instead of running them: the test must not install a kernel.
      const bin = path.join(dir, 'bin')
      await mkdir(bin)
      await writeFile(path.join(bin, 'sudo'), `#!/bin/sh\necho "$*" >> ${dir}/sudo.log\n`)
      await chmod(path.join(bin, 'sudo'), 0o755)
      const r = await run(['--release', '6.1.0-55-amd64'], { uid: 1000, path: bin })
      expect(r.err).toBe('')
      expect(r.code).toBe(0)
      expect(r.out.replace(/\d+\.\d s/g, 'N s')).toBe(
        'kmodspec setup: installing for 6.1.0-55-amd64 (through sudo): linux-image-6.1.0-55-amd64 linux-headers-6.1.0-55-amd64\n' +
          'kmodspec setup: apt-get update: N s\n' +
          'kmodspec setup: apt-get install (2 packages): N s\n' +
          `kmodspec setup: done in N s; releases installed: ${installedReleases()
            .filter((x) => x.image && x.headers)
            .map((x) => x.release)
            .join(', ')}\n`,
      )
      expect(await readFile(path.join(dir, 'sudo.log'), 'utf8')).toBe(
        'apt-get update -qq\napt-get install -y -qq linux-image-6.1.0-55-amd64 linux-headers-6.1.0-55-amd64\n',
      )
    },
    { unsafeCleanup: true },
  )
})

test('what is installed already: a line, or nothing with --if-missing; --print gives the apt-get line', async () => {
  expect(await run(['--release', '6.1.0-56-amd64'])).toEqual({ code: 0, out: 'kmodspec setup: everything 6.1.0-56-amd64 needs is installed\n', err: '' })
  expect(await run(['--if-missing'])).toEqual({ code: 0, out: '', err: '' })
  expect(await run(['--print', '--release', '6.1.0-55-amd64'])).toEqual({
    code: 0,
    out: 'apt-get install -y linux-image-6.1.0-55-amd64 linux-headers-6.1.0-55-amd64\n',
    err: '',
  })
})

test('a release that is not a release name is refused before apt sees it', async () => {
  expect(await run(['--release=-o APT::x'])).toEqual({
    code: 2,
    out: '',
    err: "kmodspec setup: '-o APT::x' is not a kernel release: give one like 6.1.0-56-amd64 (apt-cache search linux-headers lists them)\n",
  })
})
