import { Buffer } from 'node:buffer'
import type { ElfFile } from './read.js'
import { type BehaviourAction, ElfError, type ElfSection, type ModuleBehaviour } from './types.js'

/** Section of a synthetic module (defineModule) that carries its behaviour as JSON. */
export const BEHAVIOUR_SECTION = '.kmodspec.behaviour'

/**
 * The behaviour a defineModule() model carries in its `.kmodspec.behaviour` section, checked as the
 * untrusted JSON it is; undefined for a module without one (a real module: the simulator runs its
 * machine code instead, see sim/kernel/machine.ts).
 *
 * @throws ElfError when the section is not valid JSON or not a behaviour.
 * @example embeddedBehaviour(readElf(buildSyntheticModule(spec)))?.init // { actions: [...], returns: 0 }
 */
export function embeddedBehaviour(elf: ElfFile): ModuleBehaviour | undefined {
  const embedded = elf.sectionByName(BEHAVIOUR_SECTION)
  return embedded ? parseEmbedded(elf, embedded) : undefined
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
    if (typeof a.call !== 'string' || (a.arg !== undefined && typeof a.arg !== 'string'))
      return `has an action in ${where} that is neither { print: string } nor { call: string, arg?: string }`
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
  return out
}
