// The modelled kernel a module's own machine code runs against: one CPU and one guest memory per
// simulated kernel, the kernel's exports bound to TypeScript (sim/kapi), each module mapped where the
// loader's layout puts it (the addresses /proc/modules shows) and relocated as apply_relocate_add does.
import { applyRelocateAdd, Cpu, GuestFault, SparseMemory, type CallOptions, type CallResult, type KernelFunction } from '../cpu/index.js'
import { setupPerCpu } from '../cpu/percpu.js'
import { createKernelApi, KernelBug, type KernelApi, type SymbolInfo } from '../kapi/index.js'
import { readCString, writeUint, readUint } from '../kapi/guest.js'
import type { ElfFile } from '../../elf/read.js'
import { R_X86_64_PLT32, SHN_ABS, SHN_UNDEF, SHT_NOBITS, SHT_RELA, STT_FILE, STT_SECTION } from '../../elf/read.js'
import { KERN_WARNING } from './printk.js'
import type { KSection } from './elfcheck.js'
import type { ModuleLayout } from './layout.js'
import type { ParamInstance } from './params.js'
import { findModule, type KernelState, type ModuleCode, type SimModule } from './state.js'
import { findSymbol } from './symbols.js'
import { relocationFault, warnInKernelCode } from './report.js'
import { bootRegistriesOf } from './boot-registries.js'

/** Kernel functions live here, 16 bytes apart: each address is bound to a TypeScript function. */
const KERNEL_TEXT = 0xffffffff81000000n
/** Kernel variables a module reads: each gets its own zeroed pages. */
const KERNEL_DATA = 0xffffffff82800000n
const DATA_SLOT = 0x4000n
/** The per-CPU area (%gs base) and the offsets of the per-CPU variables modules name. */
const PERCPU_BASE = 0xffff88800ee00000n
const PERCPU_SIZE = 0x10000
/** `current`: a zeroed task_struct-sized block (the pid and comm a module might read are not modelled). */
const CURRENT_TASK = 0xffff888004000000n
/** The kernel stack the module's code runs on (THREAD_SIZE 16 KiB, a guard page below). */
const STACK_BASE = 0xffffc900005a0000n
/** Where an outermost call returns to. */
const EXIT_ADDRESS = 0xffffffff80fff000n
/**
 * Instructions one init or exit may run before it is taken for a CPU stuck in the module. The real
 * kernel's watchdog waits ~20 s (billions of instructions), which no interpreter can afford: at
 * 6-13 M instructions/s this bounds a runaway module to about a second.
 */
export const INSTRUCTION_BUDGET = 10_000_000
/** What one call of a kernel function implemented in TypeScript counts against the budget (measured: ~10-20 µs against ~0.1 µs an instruction). */
const HOST_CALL_COST = 200

/** Per-CPU variables of 6.1 that module code reaches through %gs. */
const PERCPU_SYMBOLS = new Set([
  'current_task',
  '__preempt_count',
  'cpu_number',
  'this_cpu_off',
  'cpu_info',
  'irq_stat',
  'hardirq_stack_ptr',
  'fixed_percpu_data',
  'softnet_data',
  'cpu_tss_rw',
])

/** The CPU side of one simulated kernel, made on the first module that runs its own code. */
export class Machine {
  readonly memory = new SparseMemory()
  readonly cpu: Cpu
  readonly api: KernelApi
  private readonly kernel = new Map<string, bigint>()
  private nextText = KERNEL_TEXT
  private nextData = KERNEL_DATA
  private nextPercpu = 0x1000n
  private readonly percpu: Map<string, bigint>
  private readonly syncs: Array<() => void> = []
  /** The loader's own exports (module references, symbol_get), bound when a module first names one. */
  private readonly loader: Record<string, KernelFunction>
  /** Kernel variables kapi defines, placed in guest memory when a module first names one (most modules name none). */
  private dataByName: Map<string, KernelApi['data'][number]> | undefined

  constructor(private readonly k: KernelState) {
    this.cpu = new Cpu({ memory: this.memory, stackBase: STACK_BASE, exitAddress: EXIT_ADDRESS })
    this.memory.map(CURRENT_TASK, 0x4000, 'rw')
    // %gs: the per-CPU variables module code reads inline; the stack protector's canary (any fixed value serves).
    this.percpu = setupPerCpu(this.cpu, { base: PERCPU_BASE, size: PERCPU_SIZE, current: CURRENT_TASK, canary: 0x5a17c0de5a17c0den })
    this.api = createKernelApi({
      memory: this.memory,
      printk: k.printk,
      notes: k.notes,
      // The task running module code is the one the loader logs from: KERN_CONT joins across both.
      caller: () => 0,
      resolveSymbol: (addr) => this.symbolAt(addr),
      warn: (at) => warnInKernelCode(k, at),
      // The registries (crypto, block, net...) take module references and call back into module code.
      host: {
        moduleGet: (owner) => this.moduleGet(owner),
        modulePut: (owner) => this.modulePut(owner),
        callGuest: (fn, args) => {
          const r = this.cpu.call(fn, args, { budget: INSTRUCTION_BUDGET })
          return r.kind === 'returned' ? r.value : undefined
        },
        moduleName: (owner) => this.moduleAt(owner)?.name,
      },
      percpuBase: PERCPU_BASE,
      boot: bootRegistriesOf(k.profile.release),
    })
    this.loader = this.loaderFunctions()
  }

  /** Places kapi's variable `d` in its own zeroed slot, writes its value and keeps it in step with the clock. */
  private bindData(d: KernelApi['data'][number]): bigint {
    const at = this.dataSlot(d.name, Math.max(d.size, 8))
    d.init(this.memory, at)
    if (d.sync) this.syncs.push(() => d.sync!(this.memory, at))
    return at
  }

  /** The address of a kernel symbol a module names, bound on first use. */
  kernelSymbol(name: string, calledAsFunction: boolean): bigint {
    const known = this.kernel.get(name)
    if (known !== undefined) return known
    const fixed = this.percpu.get(name)
    if (fixed !== undefined) return fixed
    // kapi's variables are the same names on every kernel: only one a module names makes this kernel's list
    variableNames ??= new Set(this.api.data.map((d) => d.name))
    const variable = variableNames.has(name) ? (this.dataByName ??= new Map(this.api.data.map((d) => [d.name, d]))).get(name) : undefined
    if (variable) return this.bindData(variable)
    if (Object.hasOwn(this.loader, name)) return this.bind(name, this.loader[name]!)
    if (PERCPU_SYMBOLS.has(name)) {
      // Other per-CPU variables a module names read as zero, each in its own slot of the area.
      const off = this.nextPercpu
      this.nextPercpu += 0x40n
      this.kernel.set(name, off)
      return off
    }
    const at = this.nextText
    if (this.cpu.defineThunk(at, name)) {
      this.nextText += 16n
      this.kernel.set(name, at)
      return at
    }
    if (calledAsFunction || this.api.has(name)) return this.bind(name, this.api.lookup(name))
    // A variable the simulator does not model: it reads as zero.
    return this.dataSlot(name, Number(DATA_SLOT))
  }

  private bind(name: string, fn: KernelFunction): bigint {
    const at = this.nextText
    this.nextText += 16n
    // A kernel function in TypeScript costs as much as a few hundred interpreted instructions: it
    // counts against the budget, so a loop of calls is bounded in time like a loop of instructions.
    this.cpu.defineHost(at, name, (call) => {
      this.cpu.icount += HOST_CALL_COST
      return fn(call)
    })
    this.kernel.set(name, at)
    return at
  }

  private dataSlot(name: string, size: number): bigint {
    const at = this.nextData
    const span = ((BigInt(size) + DATA_SLOT - 1n) / DATA_SLOT) * DATA_SLOT
    this.nextData += span + DATA_SLOT
    this.memory.map(at, Number(span), 'rw')
    this.kernel.set(name, at)
    if (name === '__per_cpu_offset') writeUint(this.memory, at, 8, PERCPU_BASE)
    return at
  }

  /**
   * kallsyms_lookup() in a module (find_kallsyms_symbol): the symbol at or before `addr`, the first
   * of several at one address (symtab order: the C function before its init_module alias); its size
   * runs to the next symbol, else to the end of the allocation's text.
   */
  symbolAt(addr: bigint): SymbolInfo | undefined {
    for (const m of this.k.modules) {
      const c = m.code
      if (!c) continue
      const region = [c.core, c.init_].find((r) => r !== undefined && addr >= r.addr && addr < r.addr + BigInt(r.size))
      if (!region) continue
      let best: { addr: bigint; name: string } | undefined
      let next = region.addr + BigInt(region.text)
      for (const s of c.kallsyms) {
        if (s.addr < region.addr || s.addr >= region.addr + BigInt(region.size)) continue
        if (s.addr <= addr && (best === undefined || s.addr > best.addr)) best = s
        else if (s.addr > addr && s.addr < next) next = s.addr
      }
      if (!best) return undefined
      return { name: best.name, offset: addr - best.addr, size: next - best.addr, module: m.name }
    }
    return this.kernelFunctionAt(addr)
  }

  /** A vmlinux function a module took the address of: its name; its kallsyms size is not in the profile. */
  private kernelFunctionAt(addr: bigint): SymbolInfo | undefined {
    if (addr < KERNEL_TEXT || addr >= this.nextText) return undefined
    for (const [name, at] of this.kernel) if (addr >= at && addr < at + 16n) return { name, offset: addr - at }
    return undefined
  }

  private moduleAt(ptr: bigint): SimModule | undefined {
    return this.k.modules.find((m) => m.code?.thisModule === ptr)
  }

  /** try_module_get(): a NULL owner (built-in) always succeeds; a module going away or already unused-and-dead does not. */
  moduleGet(owner: bigint): boolean {
    const m = owner === 0n ? undefined : this.moduleAt(owner)
    if (!m) return true
    if (m.state !== 'going' && m.refcnt > 0) {
      m.refcnt++
      return true
    }
    return false
  }

  /** module_put(). */
  modulePut(owner: bigint): void {
    const m = owner === 0n ? undefined : this.moduleAt(owner)
    if (m && m.refcnt > 0) m.refcnt--
  }

  /** The loader's own exports: module references, kept on the simulator's struct module. */
  private loaderFunctions(): Record<string, KernelFunction> {
    const k = this.k
    const owned = (ptr: bigint) => (ptr === 0n ? undefined : this.moduleAt(ptr))
    const symbolAddress = (name: string): bigint | undefined => {
      const found = findSymbol(k, name, true)
      if (!found) return undefined
      return found.owner ? found.owner.code?.symbols.get(name) : this.kernelSymbol(name, false)
    }
    return {
      try_module_get: (c) => (this.moduleGet(c.arg(0)) ? 1 : 0),
      __module_get: (c) => {
        const m = owned(c.arg(0))
        if (m) m.refcnt++
      },
      module_put: (c) => this.modulePut(c.arg(0)),
      __symbol_get: (c) => {
        const name = new TextDecoder().decode(readCString(c.memory, c.arg(0)))
        const found = findSymbol(k, name, true)
        if (!found) return 0
        if (!found.gpl) {
          k.printk.log(KERN_WARNING, `failing symbol_get of non-GPLONLY symbol ${name}.`)
          return 0
        }
        const o = found.owner
        // strong_try_module_get(): a module still coming, or going, is not handed out.
        if (o && (o.state !== 'live' || o.refcnt <= 0)) return 0
        if (o) o.refcnt++
        return symbolAddress(name) ?? 0
      },
      __symbol_put: (c) => {
        const name = new TextDecoder().decode(readCString(c.memory, c.arg(0)))
        const o = findSymbol(k, name, true)?.owner
        if (o && o.refcnt > 0) o.refcnt--
      },
      symbol_put_addr: (c) => {
        const info = this.symbolAt(c.arg(0))
        const o = info?.module ? findModule(k, info.module, false) : undefined
        if (o && o.refcnt > 0) o.refcnt--
      },
      __stack_chk_fail: () => {
        throw new KernelBug('Kernel panic - not syncing: stack-protector: Kernel stack is corrupted', 'bug', 'the stack canary at %gs:40 changed')
      },
    }
  }

  /** Runs a module function on the CPU until it returns, faults, traps or runs out of budget. */
  run(fn: bigint, args: bigint[] = [], onTrap?: CallOptions['onTrap']): CallResult {
    for (const s of this.syncs) s()
    try {
      return this.cpu.call(fn, args, { budget: INSTRUCTION_BUDGET, onTrap })
    } finally {
      // Back in the syscall: RCU callbacks queued by the module (kfree_rcu) run at the grace period.
      this.api.quiesce()
    }
  }
}

/** The names of kapi's kernel variables, from the first kernel that looked one up. */
let variableNames: Set<string> | undefined

/** The machine of a kernel, made when the first module runs its own code. */
export function machineOf(k: KernelState): Machine {
  // KernelState keeps only what the loader and the views use of it (state.ts: KernelMachine); it is always a Machine
  if (k.machine instanceof Machine) return k.machine
  const m = new Machine(k)
  k.machine = m
  return m
}

/**
 * move_module() + simplify_symbols()'s values + apply_relocations(): copies the SHF_ALLOC sections to
 * the module's core and init allocations, gives every symbol its address and relocates. Returns 0, or
 * -ENOEXEC after logging what apply_relocate_add logs.
 */
export function mapModule(k: KernelState, mod: SimModule, elf: ElfFile, sections: KSection[], layout: ModuleLayout): number {
  const m = machineOf(k)
  const base = (where: 'core' | 'init') => (where === 'core' ? mod.address : mod.initAddress)
  const pageUp = (n: number) => Math.ceil(n / 4096) * 4096
  // The address ranges (6.4+: the kinds of memory with the guard pages between them, layout.ts).
  const span = layout.span ?? { core: layout.coreSize, init: layout.initSize }
  const addrOf: Array<bigint | undefined> = new Array(sections.length)
  for (const s of sections) {
    const at = layout.placement[s.index]
    if (at) addrOf[s.index] = base(at.where) + BigInt(at.offset)
  }
  const n = elf.symbolCount()
  // each RELA target's entries, parsed once for calledSymbols() and apply_relocations() (and kept with the parsed image)
  let relocs = relocsByElf.get(elf)
  if (!relocs) relocsByElf.set(elf, (relocs = new Map()))
  const relocsOf = (sec: ElfFile['sections'][number]) => {
    let list = relocs.get(sec.index)
    if (!list) relocs!.set(sec.index, (list = elf.relocationsFor(sec)))
    return list
  }
  const calledNames = calledSymbols(elf, relocsOf)
  // simplify_symbols()'s imports, resolved on every load (binding a kernel function is this kernel's own)
  const undefs = undefinedSymbols(elf)
  const imports = undefs.map((i) => {
    const name = elf.symbolName(i)
    const found = findSymbol(k, name, true)
    return found?.owner ? (found.owner.code?.symbols.get(name) ?? 0n) : m.kernelSymbol(name, calledNames.has(name))
  })
  // The same image, layout and addresses with the same imports relocate to the same bytes: copy those.
  let byPlace = mappedByLayout.get(layout)
  if (!byPlace) mappedByLayout.set(layout, (byPlace = new Map()))
  const place = `${mod.address}:${mod.initAddress}`
  const known = byPlace.get(place)
  if (known && known.imports.length === imports.length && known.imports.every((v, i) => v === imports[i])) {
    if (known.core) m.memory.mapBytes(mod.address, known.core, 'rwx')
    if (known.init) m.memory.mapBytes(mod.initAddress, known.init, 'rwx')
    return finishMap(mod, sections, addrOf, span, layout, known.symbols, known.kallsyms)
  }
  if (layout.coreSize > 0) m.memory.map(mod.address, pageUp(span.core), 'rwx')
  if (layout.initSize > 0 && mod.initAddress) m.memory.map(mod.initAddress, pageUp(span.init), 'rwx')
  for (const s of sections) {
    const addr = addrOf[s.index]
    if (addr === undefined || s.type === SHT_NOBITS || s.size === 0) continue
    try {
      m.memory.write(addr, elf.bytes.subarray(s.offset, s.offset + s.size))
    } catch (e) {
      // A section the layout put past the allocation (a corrupted sh_addralign): move_module()'s memcpy faults.
      if (e instanceof GuestFault) return relocationFault(k, mod, e.info.address, 'move_module')
      throw e
    }
  }
  // Symbol values after simplify_symbols(): section address + st_value, or the resolved import.
  const values = new Array<bigint>(n).fill(0n)
  undefs.forEach((i, j) => (values[i] = imports[j]!))
  const symbols = new Map<string, bigint>()
  const kallsyms: ModuleCode['kallsyms'] = []
  for (let i = 1; i < n; i++) {
    const raw = elf.symbolRaw(i)
    if (raw.shndx === SHN_UNDEF) continue
    if (raw.shndx === SHN_ABS) {
      values[i] = raw.value
    } else {
      const secAddr = addrOf[raw.shndx]
      if (secAddr === undefined) continue
      values[i] = secAddr + raw.value
      const name = elf.symbolName(i)
      if (name !== '' && (raw.info & 0xf) !== STT_SECTION && (raw.info & 0xf) !== STT_FILE) {
        if (!symbols.has(name) || raw.info >> 4 !== 0) symbols.set(name, values[i]!)
        if (!name.startsWith('__UNIQUE_ID') && !name.startsWith('.L')) kallsyms.push({ addr: values[i]!, name })
      }
    }
  }
  kallsyms.sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0))
  // apply_relocations(): every RELA section whose target is allocated.
  const targets = new Set(elf.sections.filter((rs) => rs.type === SHT_RELA && addrOf[rs.info] !== undefined).map((rs) => rs.info))
  for (const index of targets) {
    const sec = elf.sections[index]
    if (!sec) continue
    let r
    try {
      r = applyRelocateAdd({ module: mod.name, sectionAddr: addrOf[index]!, relocs: relocsOf(sec), symbolValue: (i) => values[i] ?? 0n, target: m.memory })
    } catch (e) {
      // apply_relocate_add() writes at sh_addr + r_offset unchecked: outside the module that is a page fault.
      if (e instanceof GuestFault) return relocationFault(k, mod, e.info.address, 'apply_relocate_add')
      if (e instanceof RangeError) return relocationFault(k, mod, undefined, 'apply_relocate_add')
      throw e
    }
    if (!r.ok) {
      for (const msg of r.messages) k.printk.log(msg.level, msg.text)
      return -r.errno
    }
  }
  // a few places per layout: a spec loads a module where the same steps on a fresh kernel put it
  if (byPlace.size >= PLACES_KEPT) byPlace.delete(byPlace.keys().next().value!)
  byPlace.set(place, {
    imports,
    core: layout.coreSize > 0 ? m.memory.read(mod.address, pageUp(span.core)) : undefined,
    init: layout.initSize > 0 && mod.initAddress ? m.memory.read(mod.initAddress, pageUp(span.init)) : undefined,
    symbols,
    kallsyms,
  })
  return finishMap(mod, sections, addrOf, span, layout, symbols, kallsyms)
}

/** A module as move_module() and apply_relocations() left it at one place: its allocations' bytes, for its imports' values. */
interface MappedImage {
  imports: bigint[]
  core?: Uint8Array
  init?: Uint8Array
  /** Read only, shared by every load that reuses this entry. */
  symbols: Map<string, bigint>
  kallsyms: ModuleCode['kallsyms']
}

/** By layout (itself kept per image content, profile and flags: image-facts.ts), then by core and init address. */
const PLACES_KEPT = 4
const mappedByLayout = new WeakMap<ModuleLayout, Map<string, MappedImage>>()

/** The symbol table entries simplify_symbols() resolves (SHN_UNDEF), kept with the parsed image. */
const undefsByElf = new WeakMap<ElfFile, number[]>()
function undefinedSymbols(elf: ElfFile): number[] {
  let list = undefsByElf.get(elf)
  if (!list) {
    list = []
    for (let i = 1; i < elf.symbolCount(); i++) if (elf.symbolRaw(i).shndx === SHN_UNDEF) list.push(i)
    undefsByElf.set(elf, list)
  }
  return list
}

/** The module's code as the loader and the views read it: where its symbols, init, exit, parameters and bug table are. */
function finishMap(
  mod: SimModule,
  sections: KSection[],
  addrOf: Array<bigint | undefined>,
  span: { core: number; init: number },
  layout: ModuleLayout,
  symbols: Map<string, bigint>,
  kallsyms: ModuleCode['kallsyms'],
): number {
  const thisIdx = sections.findIndex((s) => s.name === '.gnu.linkonce.this_module')
  const paramIdx = sections.findIndex((s) => s.name === '__param')
  const bugIdx = sections.findIndex((s) => s.name === '__bug_table')
  mod.code = {
    symbols,
    kallsyms,
    thisModule: addrOf[thisIdx] ?? 0n,
    init: mod.hasInit ? symbols.get('init_module') : undefined,
    exit: mod.hasExit ? symbols.get('cleanup_module') : undefined,
    core: { addr: mod.address, size: span.core, text: layout.textSize.core },
    init_: mod.initAddress ? { addr: mod.initAddress, size: span.init, text: layout.textSize.init } : undefined,
    params: paramIdx > 0 ? addrOf[paramIdx] : undefined,
    bugTable: bugIdx > 0 && addrOf[bugIdx] !== undefined ? { addr: addrOf[bugIdx]!, count: Math.floor(sections[bugIdx]!.size / 12) } : undefined,
  }
  return 0
}

/** Relocation lists of a parsed image by target section (load.ts reuses the parsed image of a module loaded again). */
const relocsByElf = new WeakMap<ElfFile, Map<number, ReturnType<ElfFile['relocationsFor']>>>()

/** calledSymbols() of a parsed image, kept with it like its relocation lists (read only). */
const calledByElf = new WeakMap<ElfFile, ReadonlySet<string>>()

/** Names the module calls (R_X86_64_PLT32 targets): an unknown one is a function, else a variable. */
function calledSymbols(elf: ElfFile, relocationsFor: (target: ElfFile['sections'][number]) => ReturnType<ElfFile['relocationsFor']>): ReadonlySet<string> {
  const known = calledByElf.get(elf)
  if (known) return known
  const out = new Set<string>()
  for (const s of elf.sections) {
    if (s.type !== SHT_RELA) continue
    const target = elf.sections[s.info]
    if (!target) continue
    for (const r of relocationsFor(target)) {
      if (r.type === R_X86_64_PLT32 && elf.symbolRaw(r.sym).shndx === SHN_UNDEF) out.add(elf.symbolName(r.sym))
    }
  }
  calledByElf.set(elf, out)
  return out
}

/** free_module()'s unmapping: later calls into the module fault, as on the real kernel. */
export function unmapModule(k: KernelState, mod: SimModule): void {
  const c = mod.code
  if (!c || !k.machine) return
  const pageUp = (n: number) => Math.ceil(n / 4096) * 4096
  if (c.core.size > 0) k.machine.memory.unmap(c.core.addr, pageUp(c.core.size))
  freeInit(k, mod)
}

/** do_init_module() frees the init sections once init has returned. */
export function freeInit(k: KernelState, mod: SimModule): void {
  const c = mod.code
  if (!c?.init_ || !k.machine) return
  k.machine.memory.unmap(c.init_.addr, Math.ceil(c.init_.size / 4096) * 4096)
  c.init_ = undefined
}

const WIDTH: Record<string, 1 | 2 | 4 | 8> = { byte: 1, short: 2, ushort: 2, int: 4, uint: 4, hexint: 4, bint: 4, long: 8, ulong: 8, ullong: 8 }
const SIGNED = new Set(['short', 'int', 'long', 'bint'])

function paramVar(k: KernelState, mod: SimModule, index: number): bigint | undefined {
  const table = mod.code?.params
  if (table === undefined || !k.machine) return undefined
  try {
    return readUint(k.machine.memory, table + BigInt(index * 40 + 32), 8)
  } catch {
    return undefined
  }
}

/** The kernel's param_set_*() result lands in the module's own variable (what init then reads). */
export function writeParamToModule(k: KernelState, mod: SimModule, index: number): void {
  const p = mod.params[index]
  const at = paramVar(k, mod, index)
  if (!p || at === undefined || at === 0n || !k.machine) return
  const mem = k.machine.memory
  try {
    if (p.type in WIDTH && typeof p.value === 'bigint') writeUint(mem, at, WIDTH[p.type]!, BigInt.asUintN(WIDTH[p.type]! * 8, p.value))
    else if (p.type === 'bool' || p.type === 'invbool') writeUint(mem, at, 1, p.value ? 1 : 0)
    else if (p.type === 'charp') {
      // param_set_charp(): a kmalloc'd copy of the value.
      const text = new TextEncoder().encode(typeof p.value === 'string' ? p.value : '')
      const copy = k.machine.api.context.heap.kmalloc(text.length + 1, 'param_set_charp')
      mem.write(copy, new Uint8Array([...text, 0]))
      writeUint(mem, at, 8, copy)
    } else if (p.type === 'string' && typeof p.value === 'string') {
      const buf = readUint(mem, at + 8n, 8)
      const text = new TextEncoder().encode(p.value)
      mem.write(buf, new Uint8Array([...text, 0]))
    } else if (p.type === 'custom' && typeof p.value === 'string') {
      // The module's own kernel_param_ops: its set(val, kp) runs on the CPU, as parse_args() calls it.
      const kp = mod.code!.params! + BigInt(index * 40)
      const set = readUint(mem, readUint(mem, kp + 16n, 8) + 8n, 8)
      const text = new TextEncoder().encode(p.value)
      const copy = k.machine.api.context.heap.kmalloc(text.length + 1, 'parse_args')
      mem.write(copy, new Uint8Array([...text, 0]))
      if (set !== 0n) machineOf(k).cpu.call(set, [copy, kp], { budget: INSTRUCTION_BUDGET })
    }
  } catch (e) {
    if (!(e instanceof GuestFault)) throw e
  }
}

/** param_get_*() reads the module's variable: a module that changed its parameter shows the new value. */
export function readParamFromModule(k: KernelState, mod: SimModule, p: ParamInstance): void {
  const index = mod.params.indexOf(p)
  const at = index < 0 ? undefined : paramVar(k, mod, index)
  if (at === undefined || at === 0n || !k.machine) return
  const mem = k.machine.memory
  try {
    if (p.type in WIDTH) {
      const w = WIDTH[p.type]!
      const v = readUint(mem, at, w)
      p.value = SIGNED.has(p.type) ? BigInt.asIntN(w * 8, v) : v
    } else if (p.type === 'bool' || p.type === 'invbool') p.value = readUint(mem, at, 1) !== 0n
    else if (p.type === 'charp') {
      const ptr = readUint(mem, at, 8)
      p.value = ptr === 0n ? null : new TextDecoder().decode(readCString(mem, ptr))
    } else if (p.type === 'string') p.value = new TextDecoder().decode(readCString(mem, readUint(mem, at + 8n, 8)))
  } catch (e) {
    if (!(e instanceof GuestFault)) throw e
  }
}
