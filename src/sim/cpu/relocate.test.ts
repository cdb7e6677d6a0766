import { existsSync, readFileSync } from 'node:fs'
import { execa } from 'execa'
import { describe, expect, test } from 'vitest'
import {
  R_X86_64_32,
  R_X86_64_32S,
  R_X86_64_64,
  R_X86_64_NONE,
  R_X86_64_PC32,
  R_X86_64_PC64,
  R_X86_64_PLT32,
  applyRelocateAdd,
  bufferTarget,
  type Rela,
} from './relocate.js'
import { SparseMemory } from './memory.js'

const BASE = 0xffffffffc0001000n
const SYMS = [0n, 0xffffffffc0002000n, 0xffffffff81234567n, 0x1234n, 0x100000000n, 0xffffffff7fffffffn]

function run(relocs: Rela[], buf = new Uint8Array(64)) {
  const r = applyRelocateAdd({
    module: 'mod',
    sectionAddr: BASE,
    relocs,
    symbolValue: (i) => SYMS[i]!,
    target: bufferTarget(buf, BASE),
    formatPointer: () => 'LOC',
  })
  const view = new DataView(buf.buffer)
  return { r, buf, u32: (o: number) => view.getUint32(o, true), u64: (o: number) => view.getBigUint64(o, true) }
}

describe('applyRelocateAdd (6.1 arch/x86/kernel/module.c)', () => {
  test('64, 32S, 32, PC32, PLT32, PC64 and NONE write S + A (- P)', () => {
    const { r, u32, u64 } = run([
      { offset: 0, type: R_X86_64_64, sym: 2, addend: 8 },
      { offset: 8, type: R_X86_64_32S, sym: 1, addend: -4 },
      { offset: 12, type: R_X86_64_32, sym: 3, addend: 1 },
      { offset: 16, type: R_X86_64_PC32, sym: 1, addend: -4 },
      { offset: 20, type: R_X86_64_PLT32, sym: 2, addend: -4 },
      { offset: 24, type: R_X86_64_PC64, sym: 1, addend: 0 },
      { offset: 32, type: R_X86_64_NONE, sym: 2, addend: 0 },
    ])
    expect(r).toEqual({ ok: true })
    expect(u64(0)).toBe(0xffffffff8123456fn)
    expect(u32(8)).toBe(0xc0001ffc)
    expect(u32(12)).toBe(0x1235)
    expect(u32(16)).toBe(Number(0xffffffffc0002000n - 4n - (BASE + 16n)))
    expect(u32(20)).toBe(Number(BigInt.asUintN(32, 0xffffffff81234567n - 4n - (BASE + 20n))))
    expect(u64(24)).toBe(0xffffffffc0002000n - (BASE + 24n))
    expect(u64(32)).toBe(0n)
  })

  test('PC32 out of range is not checked (the check is #if 0 in 6.1)', () => {
    const { r, u32 } = run([{ offset: 0, type: R_X86_64_PC32, sym: 3, addend: 0 }])
    expect(r.ok).toBe(true)
    expect(u32(0)).toBe(Number(BigInt.asUintN(32, 0x1234n - BASE)))
  })

  test('32 and 32S overflow: two KERN_ERR lines and -ENOEXEC', () => {
    expect(run([{ offset: 0, type: R_X86_64_32, sym: 4, addend: 0 }]).r).toEqual({
      ok: false,
      errno: 8,
      messages: [
        { level: 3, text: 'module: overflow in relocation type 10 val 100000000' },
        { level: 3, text: "module: `mod' likely not compiled with -mcmodel=kernel" },
      ],
    })
    const r = run([{ offset: 0, type: R_X86_64_32S, sym: 5, addend: 0 }]).r
    expect(r.ok === false && r.messages[0]!.text).toBe('module: overflow in relocation type 11 val ffffffff7fffffff')
  })

  test('a nonzero location is refused with the 6.1 text', () => {
    const buf = new Uint8Array(64)
    buf[3] = 1
    expect(run([{ offset: 0, type: R_X86_64_PC32, sym: 1, addend: -4 }], buf).r).toEqual({
      ok: false,
      errno: 8,
      messages: [
        {
          level: 3,
          text: `module: x86/modules: Skipping invalid relocation target, existing value is nonzero for type 2, loc LOC, val ${(0xffffffffc0002000n - 4n - BASE).toString(16)}`,
        },
      ],
    })
  })

  test('an unknown type names the module and the type', () => {
    expect(run([{ offset: 0, type: 42, sym: 1, addend: 0 }]).r).toEqual({
      ok: false,
      errno: 8,
      messages: [{ level: 3, text: 'module: mod: Unknown rela relocation: 42' }],
    })
  })

  test('writes into GuestMemory; an unmapped location is a GuestFault', () => {
    const mem = new SparseMemory()
    mem.map(BASE, 4096, 'rw')
    expect(
      applyRelocateAdd({
        module: 'm',
        sectionAddr: BASE,
        relocs: [{ offset: 8, type: R_X86_64_64, sym: 1, addend: 0 }],
        symbolValue: (i) => SYMS[i]!,
        target: mem,
      }).ok,
    ).toBe(true)
    expect(mem.readU64(BASE + 8n)).toBe(0xffffffffc0002000n)
    expect(() =>
      applyRelocateAdd({
        module: 'm',
        sectionAddr: BASE + 4096n,
        relocs: [{ offset: 0, type: R_X86_64_64, sym: 1, addend: 0 }],
        symbolValue: (i) => SYMS[i]!,
        target: mem,
      }),
    ).toThrow(/write fault|read fault/)
  })
})

test('the message formats are the ones in the 6.1.0-56-amd64 kernel image', async () => {
  const image = '/boot/vmlinuz-6.1.0-56-amd64'
  if (!existsSync(image)) throw new Error(`${image} is missing: run \`apt-get install linux-image-6.1.0-56-amd64\` (as root)`)
  const bz = readFileSync(image)
  const at = bz.indexOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))
  expect(at).toBeGreaterThan(0)
  // The payload is followed by other data; xz reports trailing garbage after decoding it all.
  const { stdout } = await execa('xz', ['-dc', '--single-stream'], { input: bz.subarray(at), encoding: 'buffer', reject: false, maxBuffer: 256 << 20 })
  const vmlinux = Buffer.from(stdout)
  for (const fmt of [
    '\x013module: x86/modules: Skipping invalid relocation target, existing value is nonzero for type %d, loc %p, val %Lx\n',
    '\x013module: overflow in relocation type %d val %Lx\n',
    "\x013module: `%s' likely not compiled with -mcmodel=kernel\n",
    '\x013module: %s: Unknown rela relocation: %llu\n',
  ]) {
    expect(vmlinux.includes(Buffer.from(fmt, 'latin1')), JSON.stringify(fmt)).toBe(true)
  }
  // 6.3 renamed it "Invalid relocation target"; 6.1 must not have that text.
  expect(vmlinux.includes(Buffer.from('x86/modules: Invalid relocation target'))).toBe(false)
}, 60_000)
