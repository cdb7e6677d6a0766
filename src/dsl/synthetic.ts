import { behaviourActions, initReturn, toList, type ModuleModel } from './define.js'
import { StepFailure } from './errors.js'

// The ELF writer is loaded lazily: only chains that use defineModule need it.
const writerPath = '../elf/write.js'

/** The synthetic .ko for a model: its static facts in ELF sections, its behaviour as JSON. */
export async function buildModelImage(model: ModuleModel): Promise<Uint8Array> {
  let writer: { buildSyntheticModule(spec: unknown): Uint8Array }
  try {
    writer = (await import(writerPath)) as typeof writer
  } catch (error) {
    throw new StepFailure('the ELF writer (src/elf/write.ts) to build a synthetic .ko', `it could not be loaded: ${(error as Error).message}`, { cause: error })
  }
  return writer.buildSyntheticModule(syntheticSpec(model))
}

/** The model in the ELF writer's terms (SyntheticModuleSpec). */
export function syntheticSpec(model: ModuleModel): Record<string, unknown> {
  const d = model.definition
  const exports = (d.exports ?? []).map((e) => (typeof e === 'string' ? { name: e, gpl: false } : { name: e.name, gpl: e.gpl ?? false }))
  const functions: Record<string, ReturnType<typeof behaviourActions>> = {}
  for (const [name, body] of Object.entries(d.functions ?? {})) functions[name] = behaviourActions(body)
  for (const e of exports) functions[e.name] ??= []
  return {
    name: model.name,
    license: d.license,
    description: d.description,
    author: d.author,
    version: d.version,
    exports,
    imports: [...(d.uses ?? [])],
    params: Object.entries(d.params ?? {}).map(([name, p]) => ({ name, type: p.type, description: p.description, perm: p.perm ?? 0o644 })),
    behaviour: {
      ...(d.init === undefined ? {} : { init: { actions: behaviourActions(d.init), returns: initReturn(model) } }),
      ...(d.exit === false || d.exit === undefined ? (d.exit === false ? {} : { exit: { actions: [] } }) : { exit: { actions: behaviourActions(d.exit) } }),
      functions,
    },
    calls: toList(d.init?.calls),
  }
}
