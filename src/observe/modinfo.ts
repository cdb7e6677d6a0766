/** `modinfo -F <field>` output → its values, one per line (empty list when the field is absent). */
export function parseModinfoField(output: string): string[] {
  const lines = output.split('\n')
  if (lines.at(-1) === '') lines.pop()
  return lines
}

/** Full `modinfo` output (`key:` padded to 16 columns, then the value) → values by key, in order. */
export function parseModinfo(output: string): Record<string, string[]> {
  const fields: Record<string, string[]> = {}
  for (const line of output.split('\n')) {
    const m = /^([\w.-]+):\s*(.*)$/.exec(line)
    if (!m) continue
    ;(fields[m[1]!] ??= []).push(m[2]!)
  }
  return fields
}
