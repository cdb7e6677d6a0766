/** One line of `/proc/modules`. */
export interface ProcModule {
  name: string
  /** Bytes, as the kernel laid the module out (lsmod's Size column). */
  size: number
  /** The module's reference count (lsmod's Used by count). */
  refcount: number
  /** Modules that use this one (the kernel's source list: newest user first). */
  holders: string[]
  /** True when the module has init but no exit (`[permanent]` in the deps column). */
  permanent: boolean
  /** Live, Loading or Unloading. */
  state: string
  /** Taint letters of the module, e.g. `OE` (empty when untainted). */
  taint: string
}

/**
 * Parse `/proc/modules`. The kernel lists modules newest first, so the order of the result
 * is the reverse of the load order.
 * @example parseProcModules('hello 16384 0 - Live 0x0000000000000000 (OE)\n')[0].taint // 'OE'
 */
export function parseProcModules(text: string): ProcModule[] {
  const modules: ProcModule[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const fields = line.trim().split(/\s+/)
    const [name, size, refcount, deps, state] = fields
    if (fields.length < 5 || !/^\d+$/.test(size!) || !/^-?\d+$/.test(refcount!)) {
      throw new Error(`not a /proc/modules line: '${line}' (expected: name size refcount deps state address [taint])`)
    }
    const used = deps === '-' ? [] : deps!.split(',').filter((d) => d !== '')
    const taintField = fields.slice(6).find((f) => f.startsWith('(') && f.endsWith(')'))
    modules.push({
      name: name!,
      size: Number(size),
      refcount: Number(refcount),
      holders: used.filter((d) => d !== '[permanent]'),
      permanent: used.includes('[permanent]'),
      state: state!,
      taint: taintField ? taintField.slice(1, -1) : '',
    })
  }
  return modules
}
