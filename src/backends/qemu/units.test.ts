// Pure parts of the qemu backend: no VM needed.
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import process from 'node:process'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { writeCpio } from './cpio.js'
import { uncompressedKernel } from './kernel.js'
import { findKernelFailure } from '../../observe/kernel-failure.js'
import { decodeKmsgText, parseKmsgRecord } from '../../observe/kmsg.js'
import { decodeReply, encodePing, FrameReader } from './protocol.js'

describe('parseKmsgRecord', () => {
  it('reads prio, seq and time, drops continuation lines and decodes \\xNN escapes', () => {
    const r = parseKmsgRecord('12,349,5101144,-;[hello_api] a\\x0ab \\x5c done\n SUBSYSTEM=module\n DEVICE=+module:hello_api\n')
    expect(r).toEqual({ seq: 349, level: 4, facility: 1, timestampUs: 5101144, text: '[hello_api] a\nb \\ done' })
  })
  it('keeps fields after flags and rejects what is not a record', () => {
    expect(parseKmsgRecord('6,1,2,c,extra;x\n')?.text).toBe('x')
    expect(parseKmsgRecord('no semicolon')).toBeUndefined()
    expect(decodeKmsgText('caf\\xc3\\xa9')).toBe('café')
  })
})

describe('findKernelFailure', () => {
  const rec = (text: string) => ({ seq: 0, level: 4, facility: 0, timestampUs: 0, text })
  it('starts a WARNING report at the cut-here line and prefers the most serious failure', () => {
    expect(findKernelFailure([rec('a'), rec('------------[ cut here ]------------'), rec('WARNING: CPU: 0 PID: 1 at x.c:1 f'), rec('end')])).toEqual({
      kind: 'warning',
      report: '------------[ cut here ]------------\nWARNING: CPU: 0 PID: 1 at x.c:1 f\nend',
    })
    expect(findKernelFailure([rec('WARNING: x'), rec('BUG: kernel NULL pointer dereference, address: 0')])?.kind).toBe('oops')
    expect(findKernelFailure([rec('[hello] BUG report is not a bug')])).toBeUndefined()
  })
})

describe('agent protocol', () => {
  it('splits a byte stream into frames however it is chunked', () => {
    const frames = Buffer.concat([encodePing(7), encodePing(9)])
    const reader = new FrameReader()
    const got = [...frames].flatMap((byte) => reader.push(Buffer.from([byte])))
    expect(got.map((b) => decodeReply(b))).toEqual([
      { type: 'pong', token: 7 },
      { type: 'pong', token: 9 },
    ])
  })

  it('names an empty or unknown reply frame', () => {
    expect(() => decodeReply(Buffer.alloc(0))).toThrow('kmodspec agent sent an empty reply frame')
    expect(() => decodeReply(Buffer.from('Z'))).toThrow('kmodspec agent sent an unknown reply type 0x5a')
  })
})

describe('writeCpio', () => {
  it('writes a newc archive that cpio lists back', async () => {
    const archive = writeCpio([
      { type: 'dir', path: '/bin' },
      { type: 'file', path: '/bin/x', data: Buffer.from('abc') },
      { type: 'symlink', path: '/bin/y', target: 'x' },
      { type: 'char', path: '/console', major: 5, minor: 1 },
    ])
    const { stdout } = await execa('cpio', ['-itv', '--quiet'], { input: archive, env: { TZ: 'UTC' } })
    expect(stdout.replace(/ +/g, ' ').split('\n')).toEqual([
      'drwxr-xr-x 2 root root 0 Jan 1 1970 bin',
      '-rwxr-xr-x 1 root root 3 Jan 1 1970 bin/x',
      'lrwxrwxrwx 1 root root 1 Jan 1 1970 bin/y -> x',
      'crw------- 1 root root 5, 1 Jan 1 1970 console',
    ])
  })
})

describe('uncompressedKernel', () => {
  it('extracts the payload that starts mid-image and is followed by other data, once', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kmodspec-vmlinux-'))
    const saved = process.env.XDG_CACHE_HOME
    process.env.XDG_CACHE_HOME = dir
    try {
      // A bzImage's shape: setup code, the xz stream of an ELF vmlinux, then trailing data.
      const vmlinux = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), randomBytes(2 * 1024 * 1024)])
      const { stdout: xz } = await execa('xz', ['-c', '-0'], { input: vmlinux, encoding: 'buffer' })
      const image = path.join(dir, 'vmlinuz-test')
      await writeFile(image, Buffer.concat([Buffer.alloc(12345, 0x90), Buffer.from(xz), Buffer.alloc(999, 0xaa)]))
      const out = await uncompressedKernel(image)
      expect(out.startsWith(path.join(dir, 'kmodspec', 'vmlinux-'))).toBe(true)
      expect((await readFile(out)).equals(vmlinux)).toBe(true)
      expect(await uncompressedKernel(image)).toBe(out)
      // An image with no payload it knows is booted as it is.
      const plain = path.join(dir, 'vmlinuz-plain')
      await writeFile(plain, randomBytes(4096))
      expect(await uncompressedKernel(plain)).toBe(plain)
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME
      else process.env.XDG_CACHE_HOME = saved
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('createQemuBackend prerequisites', () => {
  it('says what to install when QEMU or the kernel image is missing', async () => {
    const { createQemuBackend } = await import('./index.js')
    await expect(createQemuBackend({ qemu: '/nonexistent/qemu-system-x86_64' })).rejects.toThrow(
      '/nonexistent/qemu-system-x86_64 is not runnable: install qemu-system-x86 (npm run vm:setup does it on Debian)',
    )
    await expect(createQemuBackend({ release: '0.0.0-none' })).rejects.toThrow(
      'no kernel image /boot/vmlinuz-0.0.0-none: install linux-image-0.0.0-none or pick another release',
    )
  })
})
