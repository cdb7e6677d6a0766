#!/usr/bin/env node
// Ranks the kernel symbols that the modules of a tree import (undefined symbols of every .ko),
// marking what sim/kapi models. Usage: npm run build && node src/sim/kapi/rank-imports.mjs [DIR] [N]
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const { readElf, SHN_UNDEF } = await import(join(root, 'dist', 'elf', 'read.js'))
const { createKernelApi } = await import(join(root, 'dist', 'sim', 'kapi', 'index.js'))
const { Printk } = await import(join(root, 'dist', 'sim', 'kernel', 'printk.js'))
const dir = process.argv[2] ?? '/lib/modules/6.1.0-56-amd64/kernel'
const top = Number(process.argv[3] ?? 150)
// Symbols the CPU handles itself (thunks, static calls, per-CPU data, ftrace).
const cpu = new Set([
  '__fentry__',
  '__x86_return_thunk',
  '__stack_chk_fail',
  '__SCT__might_resched',
  '__SCT__cond_resched',
  'current_task',
  '__preempt_count',
  'cpu_number',
  'this_cpu_off',
])
const noMemory = {
  read() {
    throw new Error('unused')
  },
  write() {},
  map() {},
  unmap() {},
  protect() {},
}
const api = createKernelApi({ memory: noMemory, printk: new Printk(0) })
const modelled = new Set([...Object.keys(api.functions), ...api.data.map((d) => d.name)])

function* walk(d) {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name)
    if (e.isDirectory()) yield* walk(p)
    else if (e.name.endsWith('.ko')) yield p
  }
}
const counts = new Map()
let modules = 0
for (const file of walk(dir)) {
  let elf
  try {
    elf = readElf(readFileSync(file))
  } catch {
    continue
  }
  modules++
  const seen = new Set()
  for (let i = 1; i < elf.symbolCount(); i++) {
    if (elf.symbolShndx(i) !== SHN_UNDEF) continue
    const name = elf.symbolName(i)
    if (name && !seen.has(name)) {
      seen.add(name)
      counts.set(name, (counts.get(name) ?? 0) + 1)
    }
  }
}
const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
const refs = ranked.reduce((n, [, c]) => n + c, 0)
const share = (pred) => ranked.filter(([s]) => pred(s)).reduce((n, [, c]) => n + c, 0)
const isThunk = (s) => cpu.has(s) || s.startsWith('__x86_indirect_thunk_')
console.log(`${modules} modules, ${counts.size} distinct imported symbols, ${refs} imports;`)
console.log(
  `modelled by sim/kapi: ${share((s) => modelled.has(s))} imports (${((100 * share((s) => modelled.has(s))) / refs).toFixed(1)}%), CPU-side: ${share(isThunk)}\n`,
)
console.log('| # | symbol | modules | |\n| ---: | --- | ---: | --- |')
ranked.slice(0, top).forEach(([s, c], i) => console.log(`| ${i + 1} | \`${s}\` | ${c} | ${modelled.has(s) ? 'kapi' : isThunk(s) ? 'cpu' : ''} |`))
