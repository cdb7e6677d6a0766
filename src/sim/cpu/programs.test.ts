// Whole C programs (arithmetic edge cases, control flow, rep string ops, struct copies) built as
// kernel code and run on the simulated CPU; the same source built natively is the judge.
import { beforeAll, describe, expect, test } from 'vitest'
import { PROGRAM } from './programs.c.js'
import { DATA_BASE, Harness, compileKernelC, describe as say, runNative } from './testcc.js'

/** The kernel exports GCC may call for copies it does not inline. */
function withStringHelpers(h: Harness): Harness {
  const m = h.cpu.memory
  h.host('memcpy', (c) => {
    m.write(c.arg(0), m.read(c.arg(1), Number(c.arg(2))))
    return c.arg(0)
  })
  h.host('memmove', (c) => {
    m.write(c.arg(0), m.read(c.arg(1), Number(c.arg(2))))
    return c.arg(0)
  })
  h.host('strlen', (c) => BigInt(m.readCString(c.arg(0), 1 << 20).length))
  h.host('memset', (c) => {
    m.write(c.arg(0), new Uint8Array(Number(c.arg(2))).fill(Number(c.arg(1) & 0xffn)))
    return c.arg(0)
  })
  return h
}

let expected: string
beforeAll(async () => {
  expected = await runNative(`#include <stdio.h>\n${PROGRAM}\nstatic char out[1 << 21];\nint main(void) { fwrite(out, 1, run_all(out), stdout); return 0; }\n`)
})

describe.each([
  // With retpolines GCC avoids jump tables; indirect calls go through __x86_indirect_thunk_*.
  ['kernel flags (retpoline and return thunks)', []],
  // Without them: real jump tables (notrack jmp *%reg under -fcf-protection) and plain ret.
  ['jump tables, no thunks', ['-mindirect-branch=keep', '-mfunction-return=keep']],
  ['-O1 with frame pointers', ['-O1', '-fno-omit-frame-pointer']],
])('the simulated CPU prints what the host CPU prints: %s', (_name, flags) => {
  test('run_all()', async () => {
    const h = withStringHelpers(new Harness())
    h.load(await compileKernelC(PROGRAM, flags as string[]))
    const r = h.call('run_all', [DATA_BASE], 100_000_000)
    if (r.kind !== 'returned') throw new Error(say(r))
    console.log(`${_name}: ${r.instructions} instructions`)
    const got = new TextDecoder('latin1').decode(h.cpu.memory.read(DATA_BASE, Number(r.value)))
    const a = got.split('\n')
    const b = expected.split('\n')
    expect(b.length).toBeGreaterThan(20_000)
    const diffs = b.map((l, i) => (l === a[i] ? '' : `line ${i + 1}: cpu "${a[i]}" | native "${l}"`)).filter(Boolean)
    expect(diffs.slice(0, 10)).toEqual([])
    expect(a.length).toBe(b.length)
  })
})
