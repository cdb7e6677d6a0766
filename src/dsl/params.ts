import { StepFailure } from './errors.js'

/** Module parameters: name → value, as `insmod x.ko name=value`. */
export type ModuleParams = Record<string, string | number>

/** `{ count: 3, name: 'a b' }` → `['count=3', 'name="a b"']`, refusing values the kernel cannot take. */
export function paramWords(params: ModuleParams | undefined): string[] {
  if (params === undefined) return []
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new StepFailure("parameters as an object, e.g. { count: 3, name: 'x' }", JSON.stringify(params) ?? String(params))
  }
  return Object.entries(params).map(([name, value]) => {
    if (!/^[A-Za-z_][\w.-]*$/.test(name)) throw new StepFailure('parameter names that are C identifiers', `'${name}'`)
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new StepFailure(`a finite number for parameter ${name}`, String(value))
      return `${name}=${value}`
    }
    if (typeof value !== 'string') {
      const hint = typeof value === 'boolean' ? ` (write ${value ? "'Y'" : "'N'"} or ${value ? 1 : 0} for a bool parameter)` : ''
      throw new StepFailure(
        `a string or number for parameter ${name}`,
        `${typeof value === 'object' ? JSON.stringify(value) : String(value)} (${typeof value})${hint}`,
      )
    }
    return /\s/.test(value) ? `${name}="${value}"` : `${name}=${value}`
  })
}
