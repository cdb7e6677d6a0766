// Exact results and flags, judged by the host CPU: each template is one instruction in inline asm
// between popf (flags in) and pushf (flags out), built once as kernel code for the simulated CPU
// and once as a native program. Only the flags the SDM defines for the operation are compared.
import { beforeAll, describe, expect, test } from 'vitest'
import { DATA_BASE, Harness, compileKernelC, describe as say, runNative } from './testcc.js'

const CF = 0x1,
  PF = 0x4,
  AF = 0x10,
  ZF = 0x40,
  SF = 0x80,
  OF = 0x800
const ALL = CF | PF | AF | ZF | SF | OF

interface Template {
  name: string
  body: string
  /** Constraints for a, b, c (defaults "+r", "+r", "+r"). */
  a?: string
  b?: string
  c?: string
  /** C statements run before the asm; may `return` after filling out[] for invalid inputs. */
  guard?: string
  /** Defined flags for these inputs, or null to compare nothing. */
  mask: (a: bigint, b: bigint, c: bigint) => number | null
}

const SIZES = [
  { s: 'b', m: '%b', bits: 8 },
  { s: 'w', m: '%w', bits: 16 },
  { s: 'l', m: '%k', bits: 32 },
  { s: 'q', m: '%q', bits: 64 },
] as const

const templates: Template[] = []
const add = (t: Template): void => void templates.push(t)
const fixed = (mask: number) => () => mask

for (const { s, m } of SIZES) {
  for (const op of ['add', 'adc', 'sub', 'sbb', 'cmp']) add({ name: `${op}_${s}`, body: `${op}${s} ${m}[b], ${m}[a]`, mask: fixed(ALL) })
  for (const op of ['and', 'or', 'xor', 'test']) add({ name: `${op}_${s}`, body: `${op}${s} ${m}[b], ${m}[a]`, mask: fixed(ALL & ~AF) })
  for (const op of ['inc', 'dec', 'neg', 'not']) add({ name: `${op}_${s}`, body: `${op}${s} ${m}[a]`, mask: fixed(ALL) })
  add({ name: `xchg_${s}`, body: `xchg${s} ${m}[b], ${m}[a]`, mask: fixed(ALL) })
  add({ name: `xadd_${s}`, body: `xadd${s} ${m}[b], ${m}[a]`, mask: fixed(ALL) })
  add({ name: `cmpxchg_${s}`, body: `cmpxchg${s} ${m}[b], ${m}[a]`, c: '+a', mask: fixed(ALL) })
  const bits = BigInt(SIZES.find((x) => x.s === s)!.bits)
  for (const op of ['shl', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr']) {
    add({
      name: `${op}_cl_${s}`,
      body: `${op}${s} %%cl, ${m}[a]`,
      c: '+c',
      mask: (_a, _b, c) => shiftMask(op, bits, c & 0xffn),
    })
  }
  add({ name: `mul_${s}`, body: `mul${s} ${m}[b]`, a: '+a', c: '+d', mask: fixed(CF | OF) })
  add({ name: `imul1_${s}`, body: `imul${s} ${m}[b]`, a: '+a', c: '+d', mask: fixed(CF | OF) })
}
// Immediate and fixed-count forms (each has its own encoding).
add({ name: 'add_imm8_q', body: 'addq $-5, %q[a]', mask: fixed(ALL) })
add({ name: 'and_imm8_q', body: 'andq $-16, %q[a]', mask: fixed(ALL & ~AF) })
add({ name: 'cmp_imm32_q', body: 'cmpq $0x7fffffff, %q[a]', mask: fixed(ALL) })
add({ name: 'sub_imm32_l', body: 'subl $0x12345678, %k[a]', mask: fixed(ALL) })
add({ name: 'adc_imm16_w', body: 'adcw $0x1234, %w[a]', mask: fixed(ALL) })
add({ name: 'sbb_imm8_b', body: 'sbbb $0x80, %b[a]', mask: fixed(ALL) })
add({ name: 'test_imm32_l', body: 'testl $0x80000001, %k[a]', mask: fixed(ALL & ~AF) })
add({ name: 'xor_imm8_w', body: 'xorw $-1, %w[a]', mask: fixed(ALL & ~AF) })
add({ name: 'mov_imm64', body: 'movabsq $0x8877665544332211, %q[a]', mask: fixed(ALL) })
add({ name: 'mov_imm32_l', body: 'movl $-1, %k[a]', mask: fixed(ALL) })
add({ name: 'mov_imm_b', body: 'movb $0x81, %b[a]', mask: fixed(ALL) })
// High-byte registers (AH..BH) on both sides.
add({ name: 'add_hb', body: 'addb %h[b], %h[a]', a: '+Q', b: '+Q', mask: fixed(ALL) })
add({ name: 'sub_hb_lb', body: 'subb %b[b], %h[a]', a: '+Q', b: '+Q', mask: fixed(ALL) })
add({ name: 'mov_hb', body: 'movb %h[b], %b[a]', a: '+Q', b: '+Q', mask: fixed(ALL) })
add({ name: 'movzx_hb', body: 'movzbl %h[b], %k[a]', a: '+Q', b: '+Q', mask: fixed(ALL) })
for (const [name, body, n] of [
  ['shl1_q', 'shlq $1, %q[a]', 1],
  ['shr1_l', 'shrl $1, %k[a]', 1],
  ['sar1_w', 'sarw $1, %w[a]', 1],
  ['rol1_b', 'rolb $1, %b[a]', 1],
  ['ror1_q', 'rorq $1, %q[a]', 1],
  ['rcl1_l', 'rcll $1, %k[a]', 1],
  ['rcr1_q', 'rcrq $1, %q[a]', 1],
  ['shl5_q', 'shlq $5, %q[a]', 5],
  ['sar40_q', 'sarq $40, %q[a]', 40],
  ['shr31_l', 'shrl $31, %k[a]', 31],
  ['rol7_w', 'rolw $7, %w[a]', 7],
  ['ror13_l', 'rorl $13, %k[a]', 13],
  ['shl9_b', 'shlb $9, %b[a]', 9],
  ['sar3_b', 'sarb $3, %b[a]', 3],
] as const) {
  const op = name.replace(/\d.*/, '')
  const bits = BigInt({ b: 8, w: 16, l: 32, q: 64 }[name.at(-1) as 'b']!)
  add({ name, body, mask: () => shiftMask(op, bits, BigInt(n)) })
}
for (const { s, m, bits } of SIZES.slice(1)) {
  const b = BigInt(bits)
  add({ name: `shld_cl_${s}`, body: `shld${s} %%cl, ${m}[b], ${m}[a]`, c: '+c', mask: (_a, _b, c) => doubleMask(b, c) })
  add({ name: `shrd_cl_${s}`, body: `shrd${s} %%cl, ${m}[b], ${m}[a]`, c: '+c', mask: (_a, _b, c) => doubleMask(b, c) })
  for (const op of ['bt', 'bts', 'btr', 'btc']) add({ name: `${op}_${s}`, body: `${op}${s} ${m}[b], ${m}[a]`, mask: fixed(CF | ZF) })
  add({ name: `bts_imm_${s}`, body: `bts${s} $13, ${m}[a]`, mask: fixed(CF | ZF) })
  add({ name: `bsf_${s}`, body: `bsf${s} ${m}[b], ${m}[a]`, mask: fixed(ZF) })
  add({ name: `bsr_${s}`, body: `bsr${s} ${m}[b], ${m}[a]`, mask: fixed(ZF) })
  add({ name: `tzcnt_${s}`, body: `tzcnt${s} ${m}[b], ${m}[a]`, mask: fixed(CF | ZF) })
  add({ name: `lzcnt_${s}`, body: `lzcnt${s} ${m}[b], ${m}[a]`, mask: fixed(CF | ZF) })
  add({ name: `popcnt_${s}`, body: `popcnt${s} ${m}[b], ${m}[a]`, mask: fixed(ALL) })
  add({ name: `imul2_${s}`, body: `imul${s} ${m}[b], ${m}[a]`, mask: fixed(CF | OF) })
  for (const op of ['cmovb', 'cmovle', 'cmovnp', 'cmovo'])
    add({ name: `${op}_${s}`, body: `cmp${s} ${m}[c], ${m}[b]\n\t${op}${s} ${m}[b], ${m}[a]`, mask: fixed(ALL) })
}
add({ name: 'shld_imm_q', body: 'shldq $12, %q[b], %q[a]', mask: () => doubleMask(64n, 12n) })
add({ name: 'shrd_imm_l', body: 'shrdl $1, %k[b], %k[a]', mask: () => doubleMask(32n, 1n) })
add({ name: 'btc_imm_q', body: 'btcq $63, %q[a]', mask: fixed(CF | ZF) })
add({ name: 'btr_imm_l', body: 'btrl $31, %k[a]', mask: fixed(CF | ZF) })
add({ name: 'imul3_q', body: 'imulq $-7, %q[b], %q[a]', mask: fixed(CF | OF) })
add({ name: 'imul3_l', body: 'imull $100000, %k[b], %k[a]', mask: fixed(CF | OF) })
add({ name: 'imul3_w', body: 'imulw $300, %w[b], %w[a]', mask: fixed(CF | OF) })
for (const [name, body] of [
  ['cbw', 'cbtw'],
  ['cwde', 'cwtl'],
  ['cdqe', 'cltq'],
  ['cwd', 'cwtd'],
  ['cdq', 'cltd'],
  ['cqo', 'cqto'],
] as const) {
  add({ name, body, a: '+a', c: '+d', mask: fixed(ALL) })
}
add({ name: 'bswap_q', body: 'bswapq %q[a]', mask: fixed(ALL) })
add({ name: 'bswap_l', body: 'bswapl %k[a]', mask: fixed(ALL) })
add({ name: 'movbe_load_q', body: 'movq %q[b], -8(%%rsp)\n\tmovbeq -8(%%rsp), %q[a]', mask: fixed(ALL) })
add({ name: 'lahf', body: 'lahf', a: '+a', mask: fixed(ALL) })
add({ name: 'sahf', body: 'sahf', a: '+a', mask: fixed(ALL) })
add({ name: 'cmc_stc', body: 'cmc', mask: fixed(ALL) })
add({ name: 'lock_xadd_mem', body: 'movq %q[a], -8(%%rsp)\n\tlock xaddq %q[b], -8(%%rsp)\n\tmovq -8(%%rsp), %q[a]', mask: fixed(ALL) })
add({ name: 'lock_cmpxchg_mem', body: 'movq %q[a], -8(%%rsp)\n\tlock cmpxchgq %q[b], -8(%%rsp)\n\tmovq -8(%%rsp), %q[a]', c: '+a', mask: fixed(ALL) })
add({
  name: 'bt_mem_reg',
  body: 'movq %q[a], -16(%%rsp)\n\tmovq %q[c], -8(%%rsp)\n\tandq $127, %q[b]\n\tbtsq %q[b], -16(%%rsp)\n\tmovq -16(%%rsp), %q[a]\n\tmovq -8(%%rsp), %q[c]',
  mask: fixed(CF | ZF),
})
// Memory operands: read-modify-write forms, register bit offsets into memory (negative too), push/pop.
const MEM = (op: string, mask = ALL): Template => ({
  name: `mem_${op.split(' ')[0]}_${templates.length}`,
  body: `movq %q[a], -8(%%rsp)\n\t${op}\n\tmovq -8(%%rsp), %q[a]`,
  mask: () => mask,
})
add(MEM('addq %q[b], -8(%%rsp)'))
add(MEM('subl %k[b], -8(%%rsp)'))
add(MEM('andw $0x0ff0, -8(%%rsp)', ALL & ~AF))
add(MEM('orb %b[b], -7(%%rsp)', ALL & ~AF))
add(MEM('negq -8(%%rsp)'))
add(MEM('notl -6(%%rsp)'))
add(MEM('incw -8(%%rsp)'))
add(MEM('decb -1(%%rsp)'))
add(MEM('xchgq %q[b], -8(%%rsp)'))
add(MEM('imulq -8(%%rsp), %q[b]', CF | OF))
add(MEM('movsbq -5(%%rsp), %q[b]'))
add(MEM('movzwl -4(%%rsp), %k[b]'))
add(MEM('movslq -8(%%rsp), %q[b]'))
add(MEM('setbe -8(%%rsp)'))
add(MEM('pushq -8(%%rsp)\n\tpopq %q[b]'))
add(MEM('pushq %q[b]\n\tpopq -8(%%rsp)'))
add({ ...MEM('shlq %%cl, -8(%%rsp)'), c: '+c', mask: (_a, _b, c) => shiftMask('shl', 64n, c & 0xffn) })
add({ ...MEM('rorl %%cl, -8(%%rsp)'), c: '+c', mask: (_a, _b, c) => shiftMask('ror', 32n, c & 0xffn) })
add({ ...MEM('shrdq %%cl, %q[b], -8(%%rsp)'), c: '+c', mask: (_a, _b, c) => doubleMask(64n, c) })
add({
  name: 'bts_mem_negative_offset',
  body: 'movq %q[a], -16(%%rsp)\n\tmovq %q[c], -8(%%rsp)\n\tandq $127, %q[b]\n\tsubq $64, %q[b]\n\tbtsq %q[b], -8(%%rsp)\n\tmovq -16(%%rsp), %q[a]\n\tmovq -8(%%rsp), %q[c]',
  mask: fixed(CF | ZF),
})
add({
  name: 'btcl_mem_reg',
  body: 'movq %q[a], -16(%%rsp)\n\tmovq %q[c], -8(%%rsp)\n\tandl $63, %k[b]\n\tbtcl %k[b], -16(%%rsp)\n\tmovq -16(%%rsp), %q[a]\n\tmovq -8(%%rsp), %q[c]',
  mask: fixed(CF | ZF),
})
// Loops on %rcx.
add({ name: 'loop', body: 'andq $15, %%rcx\n\tjrcxz 2f\n1:\taddq $3, %q[a]\n\tloop 1b\n2:', c: '+c', mask: fixed(ALL) })
add({ name: 'loopne', body: 'andq $15, %%rcx\n\tjrcxz 2f\n1:\taddq $1, %q[a]\n\tcmpq %q[a], %q[b]\n\tloopne 1b\n2:', c: '+c', mask: fixed(ALL) })
add({ name: 'jrcxz', body: 'jrcxz 1f\n\tnotq %q[a]\n1:', c: '+c', mask: fixed(ALL) })
// setcc for all 16 conditions after a 64-bit and an 8-bit compare.
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g']
for (const cc of CC) {
  add({ name: `set${cc}_q`, body: `cmpq %q[b], %q[c]\n\tset${cc} %b[a]`, mask: fixed(ALL) })
  add({ name: `set${cc}_b`, body: `cmpb %b[b], %b[c]\n\tset${cc} %b[a]`, mask: fixed(ALL) })
}
// Division with the inputs that would raise #DE filtered out (on both sides).
const DEAD = 'out[0] = out[1] = out[2] = out[3] = 0xdead; return;'
add({ name: 'div_q', body: 'divq %q[b]', a: '+a', c: '+d', guard: `if (b == 0 || c >= b) { ${DEAD} }`, mask: fixed(0) })
add({ name: 'div_l', body: 'divl %k[b]', a: '+a', c: '+d', guard: `if ((u32)b == 0 || (u32)c >= (u32)b) { ${DEAD} }`, mask: fixed(0) })
add({ name: 'div_w', body: 'divw %w[b]', a: '+a', c: '+d', guard: `if ((u16)b == 0 || (u16)c >= (u16)b) { ${DEAD} }`, mask: fixed(0) })
add({ name: 'div_b', body: 'divb %b[b]', a: '+a', guard: `if ((u8)b == 0 || (u8)(a >> 8) >= (u8)b) { ${DEAD} }`, mask: fixed(0) })
add({
  name: 'idiv_q',
  body: 'idivq %q[b]',
  a: '+a',
  c: '+d',
  guard: `c = (u64)((long long)a >> 63); if (b == 0 || (a == 0x8000000000000000ULL && b == ~0ULL)) { ${DEAD} }`,
  mask: fixed(0),
})
add({
  name: 'idiv_l',
  body: 'idivl %k[b]',
  a: '+a',
  c: '+d',
  guard: `{ long long n = (long long)(((u64)(u32)c << 32) | (u32)a); long long dv = (int)b; if (dv == 0 || (n == (long long)0x8000000000000000ULL && dv == -1) || n / dv > 0x7fffffffLL || n / dv < -0x80000000LL) { ${DEAD} } }`,
  mask: fixed(0),
})
add({
  name: 'idiv_b',
  body: 'idivb %b[b]',
  a: '+a',
  guard: `{ int n = (short)(u16)a; int dv = (signed char)b; if (dv == 0 || n / dv > 127 || n / dv < -128) { ${DEAD} } }`,
  mask: fixed(0),
})

/** Defined flags of a shift/rotate by a masked count n (SDM vol. 2, SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR). */
function shiftMask(op: string, bits: bigint, count: bigint): number | null {
  const n = count & (bits === 64n ? 63n : 31n)
  if (n === 0n) return ALL
  if (op === 'rol' || op === 'ror') return PF | AF | ZF | SF | CF | (n === 1n ? OF : 0)
  if (op === 'rcl' || op === 'rcr') {
    return PF | AF | ZF | SF | CF | (n === 1n ? OF : 0)
  }
  if (n > bits) return null // result and CF undefined for 8/16-bit operands
  return PF | ZF | SF | CF | (n === 1n ? OF : 0)
}
function doubleMask(bits: bigint, count: bigint): number | null {
  const n = count & (bits === 64n ? 63n : 31n)
  if (n === 0n) return ALL
  if (n > bits) return null
  return PF | ZF | SF | CF | (n === 1n ? OF : 0)
}

const VALUES = [
  0x0n,
  0x1n,
  0x2n,
  0x7fn,
  0x80n,
  0xffn,
  0x100n,
  0x7fffn,
  0x8000n,
  0xffffn,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  0x7fffffffffffffffn,
  0x8000000000000000n,
  0xffffffffffffffffn,
  0xfffffffffffffffen,
  0x123456789abcdef0n,
  0xfedcba9876543210n,
  0x8000000080000000n,
  0x1ffffffffn,
]
const COUNTS = [0n, 1n, 2n, 7n, 8n, 9n, 15n, 16n, 17n, 31n, 32n, 33n, 63n, 64n, 0x41n, 0xffffffffffffffffn, 0x200000003n]
const FLAGS_IN = [0n, 0x8d5n, 0x1n, 0xc4n, 0x10n, 0x800n, 0x41n]

interface Case {
  a: bigint
  b: bigint
  c: bigint
  fin: bigint
}
const CASES: Case[] = []
VALUES.forEach((a, i) => VALUES.forEach((b, j) => CASES.push({ a, b, c: COUNTS[(i * 7 + j) % COUNTS.length]!, fin: FLAGS_IN[(i + j) % FLAGS_IN.length]! })))

function cFunction(t: Template): string {
  return `void T_${t.name}(u64 a, u64 b, u64 c, u64 fin, u64 *out) {
  u64 fl;
  ${t.guard ?? ''}
  asm volatile("pushq %[fin]\\n\\tpopfq\\n\\t${t.body.replace(/\n/g, '\\n').replace(/\t/g, '\\t')}\\n\\tpushfq\\n\\tpopq %[fl]"
    : [a] "${t.a ?? '+r'}"(a), [b] "${t.b ?? '+r'}"(b), [c] "${t.c ?? '+r'}"(c), [fl] "=&r"(fl)
    : [fin] "r"(fin) : "cc", "memory");
  out[0] = a; out[1] = fl; out[2] = b; out[3] = c;
}
`
}

const PRELUDE = 'typedef unsigned long long u64; typedef unsigned int u32; typedef unsigned short u16; typedef unsigned char u8;\n'
const source = PRELUDE + templates.map(cFunction).join('\n')
const hex = (v: bigint): string => `0x${v.toString(16)}ULL`
const nativeMain = `#include <stdio.h>
${source}
static const u64 CASES[][4] = { ${CASES.map((c) => `{${hex(c.a)}, ${hex(c.b)}, ${hex(c.c)}, ${hex(c.fin)}}`).join(',\n')} };
typedef void (*fn)(u64, u64, u64, u64, u64 *);
static const fn FNS[] = { ${templates.map((t) => `T_${t.name}`).join(', ')} };
int main(void) {
  u64 out[4];
  for (unsigned f = 0; f < sizeof FNS / sizeof FNS[0]; f++)
    for (unsigned i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
      FNS[f](CASES[i][0], CASES[i][1], CASES[i][2], CASES[i][3], out);
      printf("%llx %llx %llx %llx\\n", out[0], out[1], out[2], out[3]);
    }
  return 0;
}
`

describe('one instruction at a time, judged by the host CPU', () => {
  let native: string[][]
  const h = new Harness()
  beforeAll(async () => {
    const [obj, out] = await Promise.all([compileKernelC(source), runNative(nativeMain)])
    h.load(obj)
    native = out.split('\n').map((l) => l.split(' '))
  })

  test.each(templates.map((t, i) => [t.name, t, i] as const))('%s', (_name, t, f) => {
    const mism: string[] = []
    CASES.forEach((k, i) => {
      const want = native[f * CASES.length + i]!.map((x) => BigInt(`0x${x}`))
      const r = h.call(`T_${t.name}`, [k.a, k.b, k.c, k.fin, DATA_BASE])
      if (r.kind !== 'returned') {
        mism.push(`${JSON.stringify(k, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}: ${say(r)}`)
        return
      }
      const got = [0, 1, 2, 3].map((n) => h.cpu.memory.readU64(DATA_BASE + BigInt(8 * n)))
      const mask = t.mask(k.a, k.b, k.c)
      if (mask === null) return
      const m = BigInt(mask)
      const same = got[0] === want[0] && got[2] === want[2] && got[3] === want[3] && (got[1]! & m) === (want[1]! & m)
      if (!same) {
        const f = (v: bigint[]): string => `a=${v[0]!.toString(16)} fl=${(v[1]! & m).toString(16)} b=${v[2]!.toString(16)} c=${v[3]!.toString(16)}`
        mism.push(`a=${k.a.toString(16)} b=${k.b.toString(16)} c=${k.c.toString(16)} fin=${k.fin.toString(16)}: cpu ${f(got)} | native ${f(want)}`)
      }
    })
    expect(mism.slice(0, 5)).toEqual([])
  })
})
