// The judge is the real kernel: fixtures/printk/printk_formats.ko printed every case of cases.json on
// the 6.1 VM (capture.json). Here the same calls go through the simulator's printk functions and
// the records must match line for line, level included. Masked: only %p's boot-keyed hash.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { readElf, SHF_ALLOC, SHF_EXECINSTR, STT_FILE, STT_SECTION } from '../../elf/read.js'
import type { SymbolInfo } from './vsprintf.js'
import { printkFunctions } from './printk.js'
import { u64, writeUint } from './guest.js'
import { callWith, testContext } from './testing.js'
import { HZ } from './time.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const dir = join(root, 'fixtures', 'printk')
interface Arg {
  t: string
  v?: string | number | number[]
  off?: number
  fmt?: string
  args?: Arg[]
}
const { cases } = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as { cases: Array<{ name: string; fmt: string; args: Arg[] }> }
const capture = JSON.parse(readFileSync(join(dir, 'capture.json'), 'utf8')) as {
  commands: Array<{ cmd: string; dmesg: Array<{ level: number; text: string }> }>
}

/** Where the module's core text would sit, and kallsyms over it (find_kallsyms_symbol's rules). */
const TEXT_BASE = 0xffffffffc0201000n
function moduleKallsyms(): { addr: (name: string) => bigint; resolve: (a: bigint) => SymbolInfo | undefined } {
  const elf = readElf(readFileSync(join(dir, 'printk_formats.ko')))
  // layout_sections(): core exec sections in header order, each aligned; .init* go elsewhere.
  const at = new Map<number, bigint>()
  let off = 0n
  elf.sections.forEach((s, i) => {
    const flags = s.flags
    if ((flags & (SHF_ALLOC | SHF_EXECINSTR)) !== (SHF_ALLOC | SHF_EXECINSTR) || s.name.startsWith('.init')) return
    const align = BigInt(Math.max(Number(s.addralign), 1))
    off = ((off + align - 1n) / align) * align
    at.set(i, TEXT_BASE + off)
    off += BigInt(s.size)
  })
  const end = TEXT_BASE + off
  const syms = elf
    .symbols()
    .filter((s) => s.name && at.has(s.shndx) && s.type !== STT_SECTION && s.type !== STT_FILE)
    .map((s) => ({ name: s.name, value: at.get(s.shndx)! + BigInt(s.value) }))
  return {
    addr: (name) => syms.find((s) => s.name === name)!.value,
    resolve: (a) => {
      const best = syms.filter((s) => s.value <= a).sort((x, y) => (x.value > y.value ? -1 : 1))[0]
      if (!best || a >= end) return undefined
      const next = syms.filter((s) => s.value > a).reduce((m, s) => (s.value < m ? s.value : m), end)
      return { name: best.name, offset: a - best.value, size: next - best.value, module: 'printk_formats' }
    },
  }
}

const PDEV = 0xffff888003000000n
const BARE = 0xffffffffc0203040n
const NET_UNNAMED = 0xffff888003100000n
const NET_NAMED = 0xffff888003200000n

function simulate() {
  const kallsyms = moduleKallsyms()
  // vmlinux functions the module takes the address of: a name each, no size (machine.ts's kernelFunctionAt).
  const kernelFns: string[] = []
  const KTEXT = 0xffffffff81000000n
  const kernelAt = (a: bigint): SymbolInfo | undefined => {
    const i = Number((a - KTEXT) / 16n)
    return a >= KTEXT && i < kernelFns.length ? { name: kernelFns[i]!, offset: (a - KTEXT) % 16n } : undefined
  }
  const ctx = testContext({
    resolveSymbol: (a) => kallsyms.resolve(a) ?? kernelAt(a),
    resolveDevice: (d) => (d === PDEV ? { driver: 'platform', name: 'kfmt_dev' } : d === BARE ? { driver: '', name: 'kfmt_bare' } : undefined),
    resolveNetdev: (d) => (d === NET_UNNAMED ? { name: 'kfmt%d', regState: 0 } : d === NET_NAMED ? { name: 'kfmtnet', regState: 0 } : undefined),
  })
  const { memory: mem, scratch } = ctx
  const fns = printkFunctions(ctx)
  const call = (fn: string, ...args: Array<bigint | number>) => fns[fn]!(callWith(mem, args))
  const str = (s: string) => scratch.put(s)
  const printk = (fmt: string, ...args: Array<bigint | number>) => call('_printk', str(fmt), ...args)
  const argValue = (a: Arg): bigint => {
    switch (a.t) {
      case 'str':
        return str(a.v as string)
      case 'null':
        return 0n
      case 'ptr':
        return BigInt(a.v as string)
      case 'err':
        return u64(a.v as number)
      case 'buf':
        return scratch.put(new Uint8Array(a.v as number[]))
      case 'sym':
        return kallsyms.addr(a.v as string) + BigInt(a.off!)
      case 'ksym':
        return KTEXT + 16n * BigInt(kernelFns.push(a.v as string) - 1) + BigInt(a.off!)
      default:
        return u64(BigInt(a.v as string))
    }
  }
  const from = ctx.printk.nextSeq()
  printk('\x016kfmt: begin %d\n', 4)
  for (const c of cases) {
    const vaf = c.args.find((a) => a.t === 'vaf')
    if (vaf) {
      // struct va_format { fmt, &args } with the helper's va_list (its varargs in the reg save area).
      const save = scratch.put(new Uint8Array(48))
      vaf.args!.forEach((a, i) => writeUint(mem, save + 8n + BigInt(i) * 8n, 8, argValue(a)))
      const va = scratch.put(new Uint8Array(24))
      writeUint(mem, va, 4, 8)
      writeUint(mem, va + 16n, 8, save)
      const s = scratch.put(new Uint8Array(16))
      writeUint(mem, s, 8, str(vaf.fmt!))
      writeUint(mem, s + 8n, 8, va)
      printk(`\x016kfmt: ${c.name}=${c.fmt}|\n`, s)
      continue
    }
    printk(`\x016kfmt: ${c.name}=${c.fmt}|\n`, ...c.args.map(argValue))
  }
  // kfmt_levels()
  for (const [l, n] of [
    ['0', 'emerg'],
    ['1', 'alert'],
    ['2', 'crit'],
    ['3', 'err'],
    ['4', 'warn'],
    ['5', 'notice'],
    ['6', 'info'],
  ]) {
    printk(`\x01${l}kfmt: level ${n}\n`)
  }
  printk('kfmt: level default\n')
  printk('kfmt: level KERN_DEFAULT\n')
  printk('\x016\x013kfmt: two levels, first wins\n')
  // kfmt_cont()
  printk('\x016kfmt: cont a')
  printk('\x01c b')
  printk('\x01c c=%d\n', 3)
  printk('\x01ckfmt: cont after a newline\n')
  printk('\x016kfmt: open then info')
  printk('\x016kfmt: closes it\n')
  printk('\x014kfmt: cont level')
  printk('\x01c joined\n')
  // kfmt_limit()
  const long = str('x'.repeat(1100))
  printk('\x016kfmt: long=%s|\n', long)
  printk('\x01ckfmt: cont after long\n')
  printk('\x016kfmt: after long\n')
  printk('\x016kfmt: fit=%.*s|\n', 977, long)
  printk('\x016kfmt: cut=%.*s|\n', 978, long)
  printk('\x01ckfmt: cont after cut\n')
  printk('\x016kfmt: after cut\n')
  // kfmt_ratelimit(): a static DEFINE_RATELIMIT_STATE(_rs, 5 * HZ, 10) and __func__.
  const rs = scratch.put(new Uint8Array(40))
  writeUint(mem, rs + 4n, 4, 5 * HZ)
  writeUint(mem, rs + 8n, 4, 10)
  const func = str('kfmt_ratelimit')
  for (let i = 0; i < 15; i++) if (call('___ratelimit', rs, func)) printk('\x016kfmt: ratelimited %d\n', i)
  // kfmt_devices()
  call('_dev_info', PDEV, str('kfmt: dev_info %d\n'), 1)
  call('_dev_err', PDEV, str('kfmt: dev_err no newline'))
  call('_dev_warn', PDEV, str('kfmt: dev_warn\n'))
  call('_dev_notice', PDEV, str('kfmt: dev_notice\n'))
  call('_dev_printk', str('\x012'), PDEV, str('kfmt: dev_printk crit\n'))
  call('_dev_info', BARE, str('kfmt: dev_info on a device without bus\n'))
  call('_dev_err', 0, str('kfmt: dev_err NULL\n'))
  call('netdev_info', NET_UNNAMED, str('kfmt: netdev_info unnamed\n'))
  call('netdev_warn', NET_NAMED, str('kfmt: netdev_warn named\n'))
  call('netdev_err', 0, str('kfmt: netdev_err NULL\n'))
  printk('\x016kfmt: tail without newline')
  const insmod = ctx.printk.since(from)
  // rmmod: a new command, and exit's pr_info finalizes the record init left open.
  const fromExit = ctx.printk.nextSeq()
  printk('\x016kfmt: exit\n')
  const rmmod = ctx.printk.since(fromExit)
  return { insmod, rmmod, notes: ctx.notes }
}

const HASHED = new Set(['p', 'pK'])
/** %p prints siphash(ptr, boot key): the only boot-random bytes; masked in the %p and %pK cases. */
function mask(text: string): string {
  const m = /^kfmt: (\w+)=/.exec(text)
  return m && HASHED.has(m[1]!) ? text.replace(/\b00000000[0-9a-f]{8}\b/g, '00000000<hash>') : text
}

describe('printk on the simulator matches the 6.1 VM (fixtures/printk/capture.json)', () => {
  const sim = simulate()
  const vmInsmod = capture.commands.find((c) => c.cmd === 'insmod fixtures/printk/printk_formats.ko')!.dmesg
  const vmRmmod = capture.commands.find((c) => c.cmd === 'rmmod printk_formats')!.dmesg
  // The loader's own lines (taint) come first on the VM; the module's begin with its first pr_info.
  const vmModule = vmInsmod.slice(vmInsmod.findIndex((r) => r.text.startsWith('kfmt: begin')))

  test('every format case prints the same line at the same level', () => {
    const want = vmModule.filter((r) => /^kfmt: [\w+]+=/.test(r.text) && cases.some((c) => r.text.startsWith(`kfmt: ${c.name}=`)))
    const got = sim.insmod.filter((r) => cases.some((c) => r.text.startsWith(`kfmt: ${c.name}=`)))
    expect(want).toHaveLength(cases.length)
    expect(got.map((r) => ({ level: r.level, text: mask(r.text) }))).toEqual(want.map((r) => ({ level: r.level, text: mask(r.text) })))
  })

  test('the whole insmod step: levels, KERN_CONT, the record limit, ratelimit, dev_* and netdev_*', () => {
    expect(sim.insmod.map((r) => ({ level: r.level, text: mask(r.text) }))).toEqual(vmModule.map((r) => ({ level: r.level, text: mask(r.text) })))
  })

  test('the record init left open appears with the next command, as on the VM', () => {
    expect(sim.rmmod.map((r) => ({ level: r.level, text: r.text }))).toEqual(vmRmmod.map((r) => ({ level: r.level, text: r.text })))
  })

  test('%pK hashes like %p (kptr_restrict=0) on both, and the hash is the only thing masked', () => {
    for (const lines of [vmModule, sim.insmod]) {
      const p = lines.find((r) => r.text.startsWith('kfmt: p='))!.text.split(/[= ]/)[2]
      const [a, b] = lines
        .find((r) => r.text.startsWith('kfmt: pK='))!
        .text.replace(/\|$/, '')
        .split(/[= ]/)
        .slice(2)
      expect(a).toMatch(/^00000000[0-9a-f]{8}$/)
      expect(b).toBe(a)
      expect(p).toBe(a)
    }
    expect(sim.notes.join('\n')).toMatch(/boot-specific/)
  })
})
