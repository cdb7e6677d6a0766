import { parseModinfoField } from '../../observe/index.js'
import type { ModuleModel } from '../define.js'
import type { RunContext } from '../context.js'
import { StepFailure } from '../errors.js'
import type { ModuleCatalog } from '../modules.js'
import { block } from './common.js'
import { testBounded } from './regex.js'

/** A field's expected value: the one value, all values in order, or a RegExp one value matches. */
export type ModinfoValue = string | string[] | RegExp

/** `modinfo -F <field> <file>` for each field (depends, license, vermagic, parm, alias...). */
export async function expectModinfo(
  ctx: RunContext,
  catalog: ModuleCatalog,
  module: string | ModuleModel,
  fields: Record<string, ModinfoValue>,
): Promise<void> {
  const target = await catalog.resolve(module).then(
    (m) => ctx.pathOf(m),
    () => (typeof module === 'string' ? module : module.name),
  )
  const wrong: string[] = []
  const want: string[] = []
  for (const [field, value] of Object.entries(fields)) {
    const result = await ctx.probe(['modinfo', '-F', field, target])
    if (result.exitCode !== 0) throw new StepFailure(`modinfo of ${target}`, `exit ${result.exitCode}: ${result.stderr.trim()}`)
    const values = parseModinfoField(result.stdout)
    const ok =
      value instanceof RegExp
        ? values.some((v) => testBounded(value, v))
        : Array.isArray(value)
          ? values.join('\n') === value.join('\n')
          : values.length <= 1 && (values[0] ?? '') === value
    want.push(`${field}: ${value instanceof RegExp ? String(value) : [value].flat().join(', ')}`)
    if (!ok) wrong.push(`${field}: ${values.length === 0 ? '(absent)' : values.join(', ')}`)
  }
  if (wrong.length > 0) throw new StepFailure(block(want), block(wrong))
}
