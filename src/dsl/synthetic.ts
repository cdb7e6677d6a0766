import { readFileSync } from 'node:fs'
import { buildSyntheticModule, type SyntheticModuleSpec } from '../elf/write.js'
import { composeVermagic, parseKernelConfig } from '../profile/index.js'
import { behaviourActions, initReturn, type ModuleModel } from './define.js'

/**
 * The vermagic flags of the kernels kmodspec ships a profile for (Debian 12's 6.1 amd64),
 * used when a model gives none: the Backend contract does not expose the kernel's vermagic.
 */
const DEFAULT_VERMAGIC_FLAGS = 'SMP preempt mod_unload modversions '

const vermagics = new Map<string, string>()

/** The release's own vermagic when its headers are installed (a -rt kernel's says preempt_rt), else Debian 12 6.1's flags. */
function defaultVermagic(release: string): string {
  let v = vermagics.get(release)
  if (v === undefined) {
    try {
      v = composeVermagic(release, parseKernelConfig(readFileSync(`/lib/modules/${release}/build/.config`, 'utf8')))
    } catch {
      v = `${release} ${DEFAULT_VERMAGIC_FLAGS}`
    }
    vermagics.set(release, v)
  }
  return v
}

/** The synthetic .ko for a model: its static facts in ELF sections, its behaviour as JSON. */
export function buildModelImage(model: ModuleModel, release: string): Uint8Array {
  return buildSyntheticModule(syntheticSpec(model, release))
}

/** The model in the ELF writer's terms. */
export function syntheticSpec(model: ModuleModel, release: string): SyntheticModuleSpec {
  const d = model.definition
  const exports = (d.exports ?? []).map((e) => (typeof e === 'string' ? { name: e, gpl: false } : { name: e.name, gpl: e.gpl ?? false }))
  const functions: Record<string, ReturnType<typeof behaviourActions>> = {}
  for (const [name, body] of Object.entries(d.functions ?? {})) functions[name] = behaviourActions(body)
  for (const e of exports) functions[e.name] ??= []
  const modinfo: Array<{ key: string; value: string }> = []
  if (d.author) modinfo.push({ key: 'author', value: d.author })
  if (d.description) modinfo.push({ key: 'description', value: d.description })
  if (d.version) modinfo.push({ key: 'version', value: d.version })
  for (const [name, p] of Object.entries(d.params ?? {})) {
    if (p.description) modinfo.push({ key: 'parm', value: `${name}:${p.description}` })
    modinfo.push({ key: 'parmtype', value: `${name}:${p.type}` })
  }
  return {
    name: model.name,
    license: d.license,
    modinfo,
    depends: [...(d.depends ?? [])],
    vermagic: d.vermagic ?? defaultVermagic(release),
    exports,
    imports: [...(d.uses ?? [])],
    behaviour: {
      ...(d.init === undefined ? {} : { init: { actions: behaviourActions(d.init), returns: initReturn(model) } }),
      ...(d.exit === false ? {} : { exit: { actions: behaviourActions(d.exit || undefined) } }),
      functions,
    },
  }
}
