// Decoded code shared between kernels (code-cache.ts): each CPU runs the bytes its own memory holds.
import { expect, test } from 'vitest'
import { Cpu } from './cpu.js'

const CODE = 0xffffffffc0002000n
// mov $imm32, %eax; ret
const returns = (v: number) => new Uint8Array([0xb8, v & 0xff, (v >> 8) & 0xff, 0, 0, 0xc3])

function cpuWith(code: Uint8Array): Cpu {
  const cpu = new Cpu()
  cpu.memory.map(CODE, 4096, 'rwx')
  cpu.memory.write(CODE, code)
  return cpu
}

test('two kernels with the same code at the same address run it; rewriting it in one changes only that one', () => {
  const a = cpuWith(returns(7))
  const b = cpuWith(returns(7))
  expect(a.call(CODE)).toMatchObject({ kind: 'returned', value: 7n })
  expect(b.call(CODE)).toMatchObject({ kind: 'returned', value: 7n })
  a.memory.write(CODE, returns(9))
  expect(a.call(CODE)).toMatchObject({ kind: 'returned', value: 9n })
  expect(b.call(CODE)).toMatchObject({ kind: 'returned', value: 7n })
  // a third kernel whose page holds other bytes at that address runs its own
  const c = cpuWith(returns(300))
  expect(c.call(CODE)).toMatchObject({ kind: 'returned', value: 300n })
  // and one with the first bytes again still runs them, after all of that
  expect(cpuWith(returns(7)).call(CODE)).toMatchObject({ kind: 'returned', value: 7n })
})

test('many distinct code pages (more than are kept) all run their own bytes', () => {
  for (let i = 0; i < 600; i++) expect(cpuWith(returns(i)).call(CODE)).toMatchObject({ kind: 'returned', value: BigInt(i) })
  expect(cpuWith(returns(5)).call(CODE)).toMatchObject({ kind: 'returned', value: 5n })
})
