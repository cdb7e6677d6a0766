/** One row of `lsmod` output. */
export interface LsmodRow {
  name: string
  size: number
  /** The Used by count (the module's refcount). */
  usedBy: number
  /** The holder names lsmod printed after the count (from /sys/module/<m>/holders). */
  holders: string[]
}

const HEADER = /^Module\s+Size\s+Used by\s*$/

/**
 * Parse what `lsmod` prints (kmod: `%-19s %8ld  %d` then holders joined by commas).
 * @example parseLsmod('Module                  Size  Used by\ncore_lkm               16384  1 client_lkm\n')
 */
export function parseLsmod(text: string): LsmodRow[] {
  const rows: LsmodRow[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '' || HEADER.test(line)) continue
    const match = /^(\S+)\s+(\d+)\s+(-?\d+)(?:\s+(\S+))?\s*$/.exec(line)
    if (!match) throw new Error(`not an lsmod line: '${line}' (expected: name size count [holder,holder])`)
    rows.push({
      name: match[1]!,
      size: Number(match[2]),
      usedBy: Number(match[3]),
      holders: match[4] ? match[4].split(',').filter((h) => h !== '') : [],
    })
  }
  return rows
}
