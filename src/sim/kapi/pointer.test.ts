import { describe, expect, test } from 'vitest'
import { fromUtf8 } from './guest.js'
import { PageMemory } from './test-memory.js'
import { listVa } from './va.js'
import { vsprintf, type VsprintfOptions } from './vsprintf.js'

const BUF = 0xffff888000002000n
function fmt(f: string, args: Array<bigint | number>, opts: VsprintfOptions = {}, mem = new PageMemory()): string {
  return fromUtf8(vsprintf(mem, f, listVa(args), opts))
}

describe('%p extensions', () => {
  test('%p hashes to 00000000xxxxxxxx and says so in a note; NULL and ERR_PTR print as they are', () => {
    const notes: string[] = []
    const out = fmt('%p %p %p %p', [0xffff888000002000n, 0xffff888000002000n, 0, -12n], { notes })
    const [a, b, c, d] = out.split(' ')
    expect(a).toMatch(/^00000000[0-9a-f]{8}$/)
    expect(b).toBe(a)
    expect(c).toBe('0000000000000000')
    expect(d).toBe('fffffffffffffff4')
    expect(notes.join('\n')).toMatch(/boot-specific/)
  })

  test('%px is the raw value; %pK hashes like %p with kptr_restrict=0, zeros with 2', () => {
    expect(fmt('%px|%20px|%-20px|', [0xffffffffc0201000n, 0x1234, 0x1234])).toBe('ffffffffc0201000|                1234|1234                |')
    const p = 0xffffffffc0201000n
    const [h, k] = fmt('%p %pK', [p, p]).split(' ')
    expect(k).toBe(h)
    expect(fmt('%pK', [p], { kptrRestrict: 2 })).toBe('0000000000000000')
  })

  test('%pS %ps %pB through the symbol resolver; an unknown address prints 0x...', () => {
    const resolveSymbol = (a: bigint) =>
      a >= 0xffffffffc0200000n && a < 0xffffffffc0200040n ? { name: 'kfmt_fn', offset: a - 0xffffffffc0200000n, size: 0x40n, module: 'kfmt' } : undefined
    const o = { resolveSymbol }
    expect(fmt('%pS|%ps|%pB|%pS', [0xffffffffc0200005n, 0xffffffffc0200005n, 0xffffffffc0200005n, 0xffffffffc0200000n], o)).toBe(
      'kfmt_fn+0x5/0x40 [kfmt]|kfmt_fn [kfmt]|kfmt_fn+0x5/0x40 [kfmt]|kfmt_fn+0x0/0x40 [kfmt]',
    )
    // %pB looks up address-1 so a return address just past a function still names it.
    expect(fmt('%pB', [0xffffffffc0200040n], o)).toBe('kfmt_fn+0x40/0x40 [kfmt]')
    expect(fmt('%pS', [0xffffffff81000000n], o)).toBe('0xffffffff81000000')
  })

  test('%pe names errnos, falls back to the number, and hashes a non-error pointer', () => {
    expect(fmt('%pe %pe %pe %pe', [-12n, -2n, -524n, -4000n])).toBe('-ENOMEM -ENOENT -ENOTSUPP -4000')
    expect(fmt('%pe', [0xffff888000000000n])).toMatch(/^00000000[0-9a-f]{8}$/)
  })

  test('%pI4 %pi4 %pI4h %pI6 %pI6c %pM %pMR %pMF %pm %*ph %*phC %*phD %*phN', () => {
    const mem = new PageMemory()
    mem.put(BUF, new Uint8Array([192, 168, 1, 2]))
    mem.put(BUF + 16n, new Uint8Array([0x00, 0x1b, 0x21, 0x0a, 0xbc, 0xde]))
    mem.put(BUF + 32n, new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]))
    const args = [BUF, BUF, BUF, BUF + 32n, BUF + 32n, BUF + 16n, BUF + 16n, BUF + 16n, BUF + 16n]
    expect(fmt('%pI4 %pi4 %pI4h %pI6 %pI6c %pM %pMR %pMF %pm', args, {}, mem)).toBe(
      '192.168.1.2 192.168.001.002 2.1.168.192 2001:0db8:0000:0000:0000:0000:0000:0001 2001:db8::1 00:1b:21:0a:bc:de de:bc:0a:21:1b:00 00-1b-21-0a-bc-de 001b210abcde',
    )
    // '0' is a flag, not a width: %0ph prints one byte like %ph; only a '*' width of 0 prints nothing.
    expect(fmt('%*ph|%*phC|%*phD|%*phN|%ph|%0ph|%*ph|', [3, BUF, 3, BUF, 3, BUF, 3, BUF, BUF, BUF, 0, BUF], {}, mem)).toBe(
      'c0 a8 01|c0:a8:01|c0-a8-01|c0a801|c0|c0||',
    )
    expect(fmt('%pM|%pI4|%*ph', [0, 0, 4, 0], {}, mem)).toBe('(null)|(null)|(null)')
  })

  test("%pV formats a nested va_format from guest memory without moving the caller's va_list", () => {
    const mem = new PageMemory()
    const fmtStr = mem.put(BUF, 'n=%d s=%s')
    const s = mem.put(BUF + 0x100n, 'xyz')
    const save = BUF + 0x200n
    const regs = new Uint8Array(48)
    const dv = new DataView(regs.buffer)
    dv.setBigUint64(16, 7n, true) // rdx slot
    dv.setBigUint64(24, s, true) // rcx slot
    mem.put(save, regs)
    const va = BUF + 0x300n
    const vaBytes = new Uint8Array(24)
    const vv = new DataView(vaBytes.buffer)
    vv.setUint32(0, 16, true)
    vv.setBigUint64(16, save, true)
    mem.put(va, vaBytes)
    const vaf = new Uint8Array(16)
    new DataView(vaf.buffer).setBigUint64(0, fmtStr, true)
    new DataView(vaf.buffer).setBigUint64(8, va, true)
    const vafAddr = mem.put(BUF + 0x400n, vaf)
    expect(fmt('<%pV>', [vafAddr], {}, mem)).toBe('<n=7 s=xyz>')
    expect(new DataView(mem.read(va, 4).buffer).getUint32(0, true)).toBe(16)
  })

  test('%p followed by letters consumes them all; unmodelled extensions say so', () => {
    const notes: string[] = []
    expect(fmt('%pR|', [BUF], { notes })).toBe('(%pR not modelled)|')
    expect(notes.join()).toMatch(/%pR is not modelled/)
    expect(fmt('%pZz!', [0])).toBe('0000000000000000!')
  })

  test('%pU %pa %p4cc %pNF %*pb %*pbl read the bytes they point to (the values printk_formats.ko printed on the VM)', () => {
    const mem = new PageMemory()
    const uuid = mem.put(BUF, new Uint8Array([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]))
    expect(fmt('%pU|%pUB|%pUl|%pUL', [uuid, uuid, uuid, uuid], {}, mem)).toBe(
      '12345678-9abc-def0-0123-456789abcdef|12345678-9ABC-DEF0-0123-456789ABCDEF|78563412-bc9a-f0de-0123-456789abcdef|78563412-BC9A-F0DE-0123-456789ABCDEF',
    )
    const phys = mem.put(BUF + 0x40n, new Uint8Array([0x00, 0x10, 0x20, 0x30, 0x40, 0, 0, 0]))
    // special_hex_number(): the caller's width is not used.
    expect(fmt('%pa|%pad|%30pa|%pa', [phys, phys, phys, 0], {}, mem)).toBe('0x0000004030201000|0x0000004030201000|0x0000004030201000|(null)')
    const cc = mem.put(BUF + 0x80n, new Uint8Array([0x41, 0x42, 0x0a, 0xc3]))
    expect(fmt('%p4cc|%p4ch', [cc, cc], {}, mem)).toBe('AB.C big-endian (0xc30a4241)|(%p4?)')
    const feat = mem.put(BUF + 0xc0n, new Uint8Array([0xef, 0xbe, 0xad, 0xde, 0x01, 0, 0, 0x80]))
    expect(fmt('%pNF|%pNX', [feat, feat], {}, mem)).toBe('0x80000001deadbeef|(%pN?)')
    const bits = mem.put(BUF + 0x100n, new Uint8Array([0x39, 0, 0, 0xf0, 0x81, 0, 0, 0]))
    expect(fmt('%*pb|%*pbl|%*pb|%*pbl|%*pbl', [40, bits, 40, bits, 0, bits, 0, bits, 4, 0], {}, mem)).toBe('81,f0000039|0,3-5,28-32,39|||(null)')
  })

  test('%pS of a kernel function without its size prints "?" there and says so; %ps is exact', () => {
    const notes: string[] = []
    const resolveSymbol = (a: bigint) => (a === 0xffffffff81000070n ? { name: 'kfree', offset: 0n } : undefined)
    expect(fmt('%ps|%pS', [0xffffffff81000070n, 0xffffffff81000070n], { resolveSymbol, notes })).toBe('kfree|kfree+0x0/0x?')
    expect(notes.join('\n')).toMatch(/%pS of kfree: .*not its size/)
  })
})
