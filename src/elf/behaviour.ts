import { Buffer } from 'node:buffer'
import type { BehaviourAction, ModuleBehaviour } from '../sim/kernel/types.js'
import {
  readElf,
  R_X86_64_32,
  R_X86_64_32S,
  R_X86_64_64,
  R_X86_64_PC32,
  R_X86_64_PLT32,
  SHN_LORESERVE,
  SHN_UNDEF,
  SHT_NOBITS,
  STT_FUNC,
  STT_SECTION,
  type ElfFile,
  type ElfRela,
} from './read.js'
import { ElfError, type ElfSection, type ModuleInfo } from './types.js'
import { decodeInsn, isAbsoluteMemory, isConditionalBranch, type X86Insn } from './x86.js'

/** Section of a synthetic module (defineModule) that carries its behaviour as JSON. */
export const BEHAVIOUR_SECTION = '.kmodspec.behaviour'

/** Functions whose call is a print with the format string in %rdi. */
const PRINTK = new Set(['_printk', 'printk', '_printk_deferred'])

/** Compiler and runtime helpers that are no behaviour of the module (ftrace, retpolines, sanitizers, static-call trampolines). */
const HELPER =
  /^(?:__fentry__|mcount|__x86_return_thunk|__x86_indirect_(?:call_|jump_)?thunk_\w+|__stack_chk_fail|__sanitizer_cov_\w+|__(?:tsan|asan|kasan|kcsan|kmsan|ubsan_handle)_\w+|__cyg_profile_func_\w+|__SCT__\w+|__static_call_return0)$/

/** Symbols that mean "the helper does an indirect call": the target is unknown. */
const INDIRECT = /^(?:__x86_indirect_(?:call_)?thunk_\w+|__SCT__\w+)$/

/**
 * Derive what a module does from its binary: the printk strings and the calls of init
 * (`init_module`), exit (`cleanup_module`), each export and each local function they call,
 * in code order, and the
 * value init returns. Follows the fall-through path to the first return; a function with
 * a conditional branch, an indirect call or code the decoder does not know is listed in
 * `unsure` (the model may then miss what other paths do).
 * A synthetic module's `.kmodspec.behaviour` section is returned as is.
 *
 * @throws ElfError when the file is not a readable module, or its behaviour section is not valid JSON.
 * @example deriveBehaviour(bytes, readModule(bytes)).init // { actions: [{ print: '\u00016[hello_api] Hello, World!\n' }], returns: 0 }
 */
export function deriveBehaviour(bytes: Uint8Array, info: Pick<ModuleInfo, 'hasInit' | 'hasExit' | 'exports'>): ModuleBehaviour {
  return behaviourFromElf(readElf(bytes), info)
}

/** {@link deriveBehaviour} for an already parsed file. */
export function behaviourFromElf(elf: ElfFile, info: Pick<ModuleInfo, 'hasInit' | 'hasExit' | 'exports'>): ModuleBehaviour {
  const embedded = elf.sectionByName(BEHAVIOUR_SECTION)
  if (embedded) return parseEmbedded(elf, embedded)

  const syms = elf.symbols()
  const funcs = new Map<string, { shndx: number; value: number; size: number }>()
  const byAddr = new Map<string, string>()
  for (const s of syms) {
    if (s.type !== STT_FUNC || s.shndx === SHN_UNDEF || s.shndx >= SHN_LORESERVE || s.shndx >= elf.sections.length || s.name === '') continue
    const f = { shndx: s.shndx, value: Number(s.value), size: s.size }
    if (!funcs.has(s.name)) funcs.set(s.name, f)
    const key = `${f.shndx}:${f.value}`
    const prev = byAddr.get(key)
    // init_module/cleanup_module alias the C function: a call names the C function.
    if (prev === undefined || prev === 'init_module' || prev === 'cleanup_module') byAddr.set(key, s.name)
  }
  const relocCache = new Map<number, ElfRela[]>()
  const ctx: WalkContext = {
    elf,
    relocs(sec) {
      let list = relocCache.get(sec.index)
      if (!list) relocCache.set(sec.index, (list = elf.relocationsFor(sec).sort((a, b) => a.offset - b.offset)))
      return list
    },
    funcAt: (shndx, value) => byAddr.get(`${shndx}:${value}`),
  }

  const unsure: string[] = []
  const walks = new Map<string, Walk>()
  const walk = (name: string): Walk | undefined => {
    const f = funcs.get(name)
    if (!f) return undefined
    let w = walks.get(name)
    if (!w) {
      w = walkFunction(ctx, elf.sections[f.shndx], f.value, f.size)
      walks.set(name, w)
      if (w.unsure) unsure.push(name)
    }
    return w
  }

  const out: ModuleBehaviour = { functions: {} }
  // What another module or this one can reach: init, exit, exports, and the local functions they call.
  const queue: string[] = []
  if (info.hasInit) {
    const w = walk('init_module')
    out.init = { actions: w?.actions ?? [], returns: w?.returns ?? 0 }
    // init's result decides whether the load succeeds: an unknown one must be flagged.
    if ((!w || w.returns === undefined) && !unsure.includes('init_module')) unsure.push('init_module')
    if (w) queue.push(...calls(w))
  }
  if (info.hasExit) {
    const w = walk('cleanup_module')
    out.exit = { actions: w?.actions ?? [] }
    if (!w) unsure.push('cleanup_module')
    else queue.push(...calls(w))
  }
  for (const e of info.exports) queue.push(e.name)
  while (queue.length > 0) {
    const name = queue.shift()!
    if (name in out.functions || name === 'init_module' || name === 'cleanup_module') continue
    const w = walk(name)
    if (!w) continue
    out.functions[name] = w.actions
    queue.push(...calls(w))
  }
  if (unsure.length > 0) out.unsure = unsure
  return out
}

function calls(w: Walk): string[] {
  const out: string[] = []
  for (const a of w.actions) if ('call' in a) out.push(a.call)
  return out
}

function parseEmbedded(elf: ElfFile, s: ElfSection): ModuleBehaviour {
  const data = elf.sectionData(s)
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'))
  } catch (e) {
    throw new ElfError(`malformed module: ${BEHAVIOUR_SECTION} is not valid JSON (${(e as Error).message}); rebuild it with defineModule`, 'malformed')
  }
  const b = checkBehaviour(parsed)
  if (typeof b === 'string') throw new ElfError(`malformed module: ${BEHAVIOUR_SECTION} ${b}; rebuild it with defineModule`, 'malformed')
  return b
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The actions list at `where`, or what is wrong with it. */
function checkActions(v: unknown, where: string): BehaviourAction[] | string {
  if (!Array.isArray(v)) return `has ${where} that is not a list of actions`
  for (const a of v) {
    if (!isObject(a)) return `has an action in ${where} that is not an object`
    if (typeof a.print === 'string') continue
    if (typeof a.call !== 'string' || (a.arg !== undefined && typeof a.arg !== 'string')) return `has an action in ${where} that is neither { print: string } nor { call: string, arg?: string }`
  }
  return v as BehaviourAction[]
}

/** A behaviour read from a file is untrusted JSON: its shape is checked before the loader runs it. */
function checkBehaviour(v: unknown): ModuleBehaviour | string {
  if (!isObject(v) || !isObject(v.functions)) return 'does not hold a behaviour object with "functions"'
  const out: ModuleBehaviour = { functions: {} }
  for (const [name, list] of Object.entries(v.functions)) {
    const actions = checkActions(list, `functions.${name}`)
    if (typeof actions === 'string') return actions
    out.functions[name] = actions
  }
  if (v.init !== undefined) {
    if (!isObject(v.init)) return 'has an init that is not an object'
    const actions = checkActions(v.init.actions, 'init.actions')
    if (typeof actions === 'string') return actions
    const r = v.init.returns
    if (typeof r !== 'number' || !Number.isInteger(r) || r < -(2 ** 31) || r >= 2 ** 31) return 'has an init result that is not a 32-bit integer'
    out.init = { actions, returns: r }
  }
  if (v.exit !== undefined) {
    if (!isObject(v.exit)) return 'has an exit that is not an object'
    const actions = checkActions(v.exit.actions, 'exit.actions')
    if (typeof actions === 'string') return actions
    out.exit = { actions }
  }
  if (v.unsure !== undefined) {
    if (!Array.isArray(v.unsure) || !v.unsure.every((x) => typeof x === 'string')) return 'has an "unsure" that is not a list of names'
    out.unsure = v.unsure as string[]
  }
  return out
}

interface WalkContext {
  elf: ElfFile
  relocs(sec: ElfSection): ElfRela[]
  funcAt(shndx: number, value: number): string | undefined
}

interface Walk {
  actions: BehaviourAction[]
  /** %eax at the return, when it is a known constant. */
  returns?: number
  unsure: boolean
}

/** Walk one function's fall-through path to its first return. */
function walkFunction(ctx: WalkContext, sec: ElfSection, start: number, size: number): Walk {
  const { elf } = ctx
  const actions: BehaviourAction[] = []
  if (sec.type === SHT_NOBITS || start < 0 || size <= 0 || start + size > sec.size) return { actions, unsure: true }
  const code = elf.sectionData(sec)
  const end = start + size
  const all = ctx.relocs(sec)
  let unsure = false
  let format: string | undefined
  let eax: number | undefined
  let returned = false
  const visited = new Set<number>()
  let pos = start
  // Relocations are sorted by offset: find the first one inside [a, b).
  const relocIn = (a: number, b: number): ElfRela | undefined => {
    let lo = 0
    let hi = all.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (all[mid].offset < a) lo = mid + 1
      else hi = mid
    }
    return lo < all.length && all[lo].offset < b ? all[lo] : undefined
  }

  while (pos < end && !returned) {
    if (visited.has(pos)) {
      unsure = true // a loop
      break
    }
    visited.add(pos)
    const insn = decodeInsn(code, pos, end)
    if (!insn) {
      unsure = true
      break
    }
    const next = pos + insn.length
    pos = next
    if (isConditionalBranch(insn)) {
      unsure = true
      continue
    }
    const rel = relocIn(insn.start, next)
    const op = insn.opcode
    if (op === 0xe8 || op === 0xe9) {
      const target = rel ? callTarget(ctx, rel) : ctx.funcAt(sec.index, next + insn.imm)
      const tail = op === 0xe9
      if (!rel && tail && next + insn.imm >= start && next + insn.imm < end) {
        pos = next + insn.imm // a jump inside the function
        continue
      }
      if (target === '__x86_return_thunk') {
        returned = true
        continue
      }
      if (target === undefined) unsure = true
      else if (PRINTK.has(target)) {
        if (format === undefined) unsure = true
        else actions.push({ print: format })
      } else if (HELPER.test(target)) {
        if (INDIRECT.test(target)) unsure = true
      } else actions.push({ call: target })
      format = undefined
      eax = undefined
      if (tail) returned = true
      continue
    }
    if (op === 0xeb) {
      const t = next + insn.imm
      if (t >= start && t < end) pos = t
      else unsure = true
      continue
    }
    if (op === 0xc3 || op === 0xc2) {
      returned = true
      continue
    }
    if (op === 0xff && insn.modrm >= 0) {
      const reg = (insn.modrm >> 3) & 7
      if (reg === 2 || reg === 3 || reg === 4 || reg === 5) {
        unsure = true // indirect call or jump
        eax = undefined
        if (reg === 4 || reg === 5) returned = true
        continue
      }
    }
    if (op === 0x0f0b) {
      unsure = true // ud2: BUG()
      break
    }
    // An absolute address without a relocation is a wild pointer (e.g. a NULL write): the model cannot say what happens.
    if (!rel && isAbsoluteMemory(insn)) unsure = true
    if (rel) {
      const s = stringRef(ctx, rel, next)
      if (s !== undefined && writesRdi(insn)) format = s
    }
    eax = trackEax(insn, eax)
  }
  if (!returned) unsure = true
  return returned && eax !== undefined ? { actions, returns: eax, unsure } : { actions, unsure }
}

/** The function a call relocation reaches: a named symbol, or a local function by section + addend. */
function callTarget(ctx: WalkContext, rel: ElfRela): string | undefined {
  if (rel.type !== R_X86_64_PLT32 && rel.type !== R_X86_64_PC32) return undefined
  const raw = ctx.elf.symbolRaw(rel.sym)
  if ((raw.info & 0xf) === STT_SECTION) return ctx.funcAt(raw.shndx, Number(raw.value) + rel.addend + 4)
  const name = ctx.elf.symbolName(rel.sym)
  return name === '' ? undefined : name
}

/** The string a relocation points at, when it points into a `.rodata.str*` (merged strings) section. */
function stringRef(ctx: WalkContext, rel: ElfRela, insnEnd: number): string | undefined {
  const { elf } = ctx
  const raw = elf.symbolRaw(rel.sym)
  if (raw.shndx === SHN_UNDEF || raw.shndx >= SHN_LORESERVE || raw.shndx >= elf.sections.length) return undefined
  const sec = elf.sections[raw.shndx]
  if (!sec.name.startsWith('.rodata.str')) return undefined
  let off = Number(raw.value) + rel.addend
  if (rel.type === R_X86_64_PC32) off += insnEnd - rel.offset
  else if (rel.type !== R_X86_64_32S && rel.type !== R_X86_64_32 && rel.type !== R_X86_64_64) return undefined
  if (off < 0 || off >= sec.size) return undefined
  return elf.stringAt(sec, off)
}

/** mov $imm,%edi / mov $imm,%rdi / lea x(%rip),%rdi: the first argument register. */
function writesRdi(i: X86Insn): boolean {
  const rexB = (i.rex & 1) !== 0
  const rexR = (i.rex & 4) !== 0
  if (i.opcode === 0xbf) return !rexB
  if (i.opcode === 0xc7) return i.modrm === 0xc7 && !rexB
  if (i.opcode === 0x8d) return ((i.modrm >> 3) & 7) === 7 && !rexR
  return false
}

/** Follow constants written to %eax; anything else that writes it makes it unknown. */
function trackEax(i: X86Insn, eax: number | undefined): number | undefined {
  const rexB = (i.rex & 1) !== 0
  const rexR = (i.rex & 4) !== 0
  const op = i.opcode
  if ((op === 0x31 || op === 0x33 || op === 0x29 || op === 0x2b) && i.modrm === 0xc0 && !rexB && !rexR) return 0
  if (op === 0xb8 && !rexB) return (i.rex & 8) !== 0 ? undefined : i.imm
  if (op === 0xc7 && i.modrm === 0xc0 && !rexB) return i.imm
  if (op === 0x58 && !rexB) return undefined // pop %rax
  if (op === 0x98 || op === 0x99 || (op >= 0x91 && op <= 0x97)) return undefined
  if (i.modrm < 0) return eax
  const mod = i.modrm >> 6
  const reg = (i.modrm >> 3) & 7
  const rm = i.modrm & 7
  // Compares and tests only read; stores (mod != 3 with eax as source) write memory.
  if (op === 0x38 || op === 0x39 || op === 0x3a || op === 0x3b || op === 0x84 || op === 0x85) return eax
  if (mod === 3 && rm === 0 && !rexB && op !== 0x0f1f) return undefined
  const regDest = [0x02, 0x03, 0x0a, 0x0b, 0x12, 0x13, 0x1a, 0x1b, 0x22, 0x23, 0x2a, 0x2b, 0x32, 0x33, 0x8a, 0x8b, 0x8d, 0x63, 0x69, 0x6b, 0x0fb6, 0x0fb7, 0x0fbe, 0x0fbf, 0x0faf]
  if (reg === 0 && !rexR && (regDest.includes(op) || (op >= 0x0f40 && op <= 0x0f4f))) return undefined
  return eax
}
