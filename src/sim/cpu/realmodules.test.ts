// Robustness on real compiled kernel code: the init functions of a sample of the 6.1 tree's
// modules run with every kernel function stubbed to return 0 and every kernel variable zeroed.
// The outcomes depend on the stubs (NULL from kmalloc, faults on zeroed pointers); what must never
// happen is a JS exception, an instruction the decoder knows but the executor does not, or bytes
// the decoder cannot decode.
import { readFileSync } from 'node:fs'
import { expect, test } from 'vitest'
import { R_X86_64_PLT32, SHT_RELA, readElf } from '../../elf/read.js'
import { Cpu } from './cpu.js'
import { HostStop, kernelThunk } from './host.js'
import { loadObject, treeModules, TREE_RELEASE } from './testkit.js'

const TREE = `/lib/modules/${TREE_RELEASE}/kernel`
const KERNEL_DATA = 0xffffffff82000000n
const KERNEL_TEXT = 0xffffffff81000000n

function sample(): string[] {
  return treeModules().filter((_, i) => i % Number(process.env.CPU_SAMPLE_EVERY ?? 10) === 0)
}

/** Undefined symbols only ever called or jumped to (PLT32) are functions; the rest are data. */
function functionImports(bytes: Uint8Array): Set<string> {
  const elf = readElf(bytes)
  const fn = new Set<string>()
  const data = new Set<string>()
  for (const s of elf.sections) {
    if (s.type !== SHT_RELA || s.info === 0) continue
    for (const r of elf.relocationsFor(elf.sections[s.info]!)) {
      if (elf.symbolShndx(r.sym) !== 0) continue
      ;(r.type === R_X86_64_PLT32 ? fn : data).add(elf.symbolName(r.sym))
    }
  }
  for (const d of data) fn.delete(d)
  return fn
}

test('init of every 10th module of the 6.1 tree runs to an outcome with stubbed kernel functions', () => {
  const outcomes = new Map<string, number>()
  const bad: string[] = []
  const files = sample()
  let instructions = 0
  const notModelled: string[] = []
  for (const file of files) {
    const name = file.slice(TREE.length + 1)
    const bytes = new Uint8Array(readFileSync(file))
    const fns = functionImports(bytes)
    const cpu = new Cpu({ gsBase: 0xffff888000010000n })
    cpu.memory.map(0xffff888000010000n, 0x40000, 'rw')
    let text = KERNEL_TEXT
    let data = KERNEL_DATA
    const resolve = (sym: string): bigint => {
      if (kernelThunk(sym)) {
        cpu.defineThunk(text, sym)
        return (text += 16n) - 16n
      }
      if (fns.has(sym)) {
        cpu.defineHost(text, sym, () => {
          if (sym === '__stack_chk_fail' || sym === 'panic' || sym === '__fortify_panic') throw new HostStop(sym)
          return 0
        })
        return (text += 16n) - 16n
      }
      cpu.memory.map(data, 4096, 'rw')
      return (data += 4096n) - 4096n
    }
    let obj
    try {
      obj = loadObject(cpu, bytes, 0xffffffffc0000000n, resolve, name)
    } catch (e) {
      bad.push(`${name}: load: ${(e as Error).message.split('\n')[0]}`)
      continue
    }
    const init = obj.symbols.get('init_module')
    if (init === undefined) {
      outcomes.set('no init', (outcomes.get('no init') ?? 0) + 1)
      continue
    }
    const r = cpu.call(init, [], { budget: 300_000 })
    instructions += r.instructions
    const key = r.kind === 'trap' ? `trap ${r.trap}` : r.kind === 'returned' ? `returned ${r.value === 0n ? '0' : 'error'}` : r.kind
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
    if (r.kind === 'trap' && r.trap === 'unsupported') notModelled.push(`${name}: ${r.detail}`)
    if (process.env.CPU_SHOW_FAULTS && (r.kind === 'fault' || r.kind === 'budget'))
      console.log(
        `${name}: ${r.kind} ${r.kind === 'fault' ? `${r.fault.access} 0x${r.fault.address.toString(16)}` : ''} rip=0x${(r.rip - 0xffffffffc0000000n).toString(16)}`,
      )
    if (r.kind === 'host-error') bad.push(`${name}: host error ${String(r.error)}`)
    if (r.kind === 'trap' && (r.trap === 'invalid-opcode' || /internal op/.test(r.detail ?? '')))
      bad.push(`${name}: ${r.trap} ${r.detail ?? ''} at 0x${r.rip.toString(16)}`)
  }
  console.log(`init of ${files.length} modules, ${instructions} instructions: ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}`)
  if (notModelled.length) console.log(`not modelled (as designed):\n  ${notModelled.join('\n  ')}`)
  expect(bad).toEqual([])
  expect(outcomes.get('returned 0') ?? 0).toBeGreaterThan(files.length / 4)
}, 60_000)
