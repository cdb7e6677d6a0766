// modinfo reads files only, so the host's kmod 30 is its judge: the same files, the same argv, the
// same cwd, compared byte for byte (stdout, stderr, exit status), on fixtures, foreign-architecture
// files made with the ELF writer, hand-made edge cases and a few hundred seeded mutants.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Buffer } from 'node:buffer'
import { execa } from 'execa'
import { dir as tmpDir } from 'tmp-promise'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { SimKernel } from '../kernel/types.js'
import { Vfs } from '../vfs.js'
import type { ToolContext } from './context.js'
import { runTool } from './index.js'
import { encodeRaw } from '../../elf/rawtext.js'
import { writeElfObject, type RawSection } from '../../elf/write.js'
import { caseRandom, mutate } from '../fuzz/mutate.js'

const R = '6.1.0-56-amd64'
const idle = { release: R, readFile: () => undefined, listDir: () => undefined } as unknown as SimKernel
const MODINFO = '/sbin/modinfo'

let root: string
let work: string
let cleanup: () => Promise<void>
beforeAll(async () => {
  const t = await tmpDir({ unsafeCleanup: true })
  root = join(t.path, 'sysroot')
  work = join(t.path, 'work')
  cleanup = t.cleanup
  mkdirSync(join(root, 'lib/modules', R), { recursive: true })
  mkdirSync(join(root, 'etc/modprobe.d'), { recursive: true })
  mkdirSync(work, { recursive: true })
})
afterAll(() => cleanup())

interface Outcome {
  exitCode: number
  stdout: string
  stderr: string
}

const show = (b: Uint8Array) => Buffer.from(b).toString('latin1')

function sim(argv: string[], cwd: string): Outcome {
  let stdout = ''
  let stderr = ''
  const ctx = {
    kernel: idle,
    vfs: new Vfs({ release: R, kernel: idle, sysroot: root }),
    release: R,
    cwd,
    out: (t: string) => void (stdout += t),
    err: (t: string) => void (stderr += t),
  } as unknown as ToolContext
  const exitCode = runTool(ctx, argv)
  // Compared as bytes: the simulator keeps a module's invalid UTF-8 as escaped bytes (see elf/rawtext).
  return { exitCode, stdout: show(encodeRaw(stdout)), stderr: show(encodeRaw(stderr)) }
}

async function real(argv: string[], cwd: string): Promise<Outcome> {
  const r = await execa(MODINFO, argv.slice(1), { cwd, reject: false, encoding: 'buffer', stripFinalNewline: false, env: { PWD: cwd } })
  const signals: Record<string, number> = { SIGABRT: 6, SIGSEGV: 11, SIGBUS: 7 }
  const exitCode = r.exitCode ?? 128 + (signals[r.signal ?? ''] ?? 0)
  return { exitCode, stdout: show(r.stdout as Uint8Array), stderr: show(r.stderr as Uint8Array) }
}

async function agree(bytes: Uint8Array, argv: (file: string) => string[] = (f) => ['modinfo', f], name = 'm.ko'): Promise<void> {
  writeFileSync(join(work, name), bytes)
  const args = argv(`./${name}`)
  const expected = await real(args, work)
  expect(sim(args, work), `modinfo ${args.slice(1).join(' ')}`).toEqual(expected)
}

const enc = (s: string) => Buffer.from(s, 'latin1')

/** A .ko-shaped file of any class and byte order: .modinfo, this_module, a symbol table with a __crc_. */
function foreign(
  elfClass: 32 | 64,
  msb: boolean,
  machine: number,
  modinfo = 'license=GPL\0author=kmodspec\0description=a foreign module\0parm=level:how loud\0parmtype=level:int\0alias=foreign-thing\0vermagic=6.1.0 SMP mod_unload\0',
): Uint8Array {
  const sections: RawSection[] = [
    { name: '.text', type: 1, flags: 6, data: new Uint8Array(16), align: 16 },
    { name: '.modinfo', type: 1, flags: 2, data: enc(modinfo), align: 1 },
    { name: '.gnu.linkonce.this_module', type: 1, flags: 3, data: new Uint8Array(64), align: 8 },
  ]
  return writeElfObject({ elfClass, msb, machine, sections })
}

describe('modinfo agrees with kmod 30 on unmutated modules, relative and absolute paths', () => {
  const fixtures = ['hello/hello_api.ko', 'hello/hello_feature.ko', 'errors/params.ko', 'modprobe/modprobe_demo.ko', 'errors/not_elf.ko', 'errors/truncated.ko']
  for (const f of fixtures) {
    test(f, async () => {
      const bytes = new Uint8Array(readFileSync(join('fixtures', f)))
      await agree(bytes)
      await agree(bytes, (p) => ['modinfo', join(work, p)])
      await agree(bytes, (p) => ['modinfo', '-p', p])
      await agree(bytes, (p) => ['modinfo', '-F', 'vermagic', '-0', p])
    })
  }
  test('a path with . and .. and a doubled slash is printed as given, joined to the cwd', async () => {
    const bytes = new Uint8Array(readFileSync('fixtures/hello/hello_api.ko'))
    mkdirSync(join(work, 'sub'), { recursive: true })
    await agree(bytes, () => ['modinfo', 'sub/..//./m.ko'])
  })
})

describe('modinfo reads what kmod reads: other classes, byte orders and machines', () => {
  for (const [label, cls, msb, machine] of [
    ['ELF32 i386', 32, false, 3],
    ['ELF32 big-endian (PowerPC)', 32, true, 20],
    ['ELF64 big-endian (s390x)', 64, true, 22],
    ['ELF64 aarch64', 64, false, 183],
  ] as const) {
    test(label, async () => {
      await agree(foreign(cls, msb, machine))
      await agree(foreign(cls, msb, machine), (p) => ['modinfo', '-p', p])
    })
  }
})

describe('modinfo prints a module’s strings as kmod does', () => {
  const cases: Array<[string, string]> = [
    ['keys longer than 15 bytes', 'license=GPL\0a_very_long_key_of_30_bytes___=v\0exactly_15_bytes=x\0sixteen_bytes_k=y\0'],
    ['invalid UTF-8 stays raw bytes', 'license=GPL\0description=\xff\xfe caf\xc3\xa9 \xc3\0author=\xed\xa0\x80\0'],
    ['a key without =, an empty key, an empty value', 'license=GPL\0novalue\0=onlyvalue\0empty=\0'],
    ['zero padding first, and one byte left after it', '\0\0\0\0x'],
    ['no NUL at the end', 'license=GPL\0author=last'],
    ['parm without a colon', 'license=GPL\0parm=broken\0parmtype=ok:int\0'],
  ]
  for (const [label, modinfo] of cases) test(label, () => agree(foreign(64, false, 62, modinfo)))
})

describe('modinfo refuses what kmod refuses, with its errno text', () => {
  const good = () => new Uint8Array(readFileSync('fixtures/hello/hello_api.ko'))
  const set = (b: Uint8Array, at: number, bytes: number[]) => {
    b.set(bytes, at)
    return b
  }
  const cases: Array<[string, () => Uint8Array]> = [
    ['an empty file', () => new Uint8Array()],
    ['5 bytes', () => good().subarray(0, 5)],
    ['16 bytes of ELF', () => good().subarray(0, 16)],
    ['an ELF64 header cut at 64 bytes', () => good().subarray(0, 64)],
    ['ELF class 3', () => set(good(), 4, [3])],
    ['data encoding 0', () => set(good(), 5, [0])],
    ['e_shentsize 40 on ELF64', () => set(good(), 58, [40, 0])],
    ['section headers past the end', () => set(good(), 40, [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])],
    ['e_shstrndx 0 (libkmod asserts)', () => set(good(), 62, [0, 0])],
    ['e_shstrndx past e_shnum (libkmod asserts)', () => set(good(), 62, [0xff, 0x7f])],
    [
      'no .modinfo section',
      () => foreign(64, false, 62).map((x, i, a) => (i > 0 && a[i - 1] === 0x2e && x === 0x6d && a[i + 1] === 0x6f && a[i + 2] === 0x64 ? 0x4d : x)),
    ],
  ]
  for (const [label, make] of cases) test(label, () => agree(make()))
})

describe('modinfo agrees with kmod 30 on 300 seeded mutants', () => {
  const SEED = 14
  const bases = ['hello/hello_api.ko', 'hello/hello_feature.ko', 'errors/params.ko', 'modprobe/modprobe_demo.ko', 'refcount/refget.ko']
  test('every mutant: same stdout, stderr and exit status', async () => {
    const files = bases.map((b) => new Uint8Array(readFileSync(join('fixtures', b))))
    const wrong: string[] = []
    for (let i = 0; i < 300; i++) {
      const rand = caseRandom(SEED, i)
      const base = rand() % files.length
      const m = mutate(files[base]!, rand)
      writeFileSync(join(work, 'm.ko'), m.bytes)
      const argv = ['modinfo', './m.ko']
      const [got, want] = [sim(argv, work), await real(argv, work)]
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        wrong.push(
          `case ${i} (${bases[base]}: ${m.how.join('; ')}):\n  sim:  ${JSON.stringify(got).slice(0, 600)}\n  kmod: ${JSON.stringify(want).slice(0, 600)}`,
        )
      }
    }
    expect(wrong.slice(0, 5).join('\n')).toBe('')
    expect(wrong.length).toBe(0)
  }, 120_000)
})
