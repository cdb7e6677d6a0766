// Readers of /sys/module/<m>/* files: each takes what `cat` or `ls` printed.

/** `/sys/module/<m>/refcnt` → the number. */
export function parseRefcnt(text: string): number {
  const value = text.trim()
  if (!/^-?\d+$/.test(value)) throw new Error(`not a refcnt value: '${value}' (expected an integer)`)
  return Number(value)
}

/** `ls /sys/module/<m>/holders` → holder names (ls prints one or more per line, sorted). */
export function parseHolders(lsOutput: string): string[] {
  return lsOutput.split(/\s+/).filter((name) => name !== '')
}

/** `/sys/module/<m>/initstate` → `live`, `coming` or `going`. */
export function parseInitstate(text: string): string {
  return text.trim()
}

/** `/sys/module/<m>/taint` → the module's taint letters (empty when untainted). */
export function parseModuleTaint(text: string): string {
  return text.trim()
}
