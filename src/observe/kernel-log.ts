import type { KernelLogRecord } from '../contract/backend.js'

// Readers of kernel log lines. Each pattern is the text the kernel prints (kernel/module/*.c,
// kernel/params.c in v6.1); tests pin them to lines captured from a real kernel.

/** A line of `dmesg` output without its `[    1.234567] ` prefix. */
export function stripTimestamp(line: string): string {
  return line.replace(/^\[\s*\d+\.\d+\]\s?/, '')
}

/** Lines of `dmesg` output → their texts, prefixes removed. */
export function parseDmesg(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(stripTimestamp)
}

function texts(log: readonly (KernelLogRecord | string)[]): string[] {
  return log.map((r) => (typeof r === 'string' ? r : r.text))
}

/** `<module>: Unknown symbol <symbol> (err <n>)`: one line per missing symbol. */
export function unknownSymbols(log: readonly (KernelLogRecord | string)[]): Array<{ module: string; symbol: string; err: number }> {
  const found = []
  for (const text of texts(log)) {
    const m = /^(\S+): Unknown symbol (\S+) \(err (-?\d+)\)$/.exec(text)
    if (m) found.push({ module: m[1]!, symbol: m[2]!, err: Number(m[3]) })
  }
  return found
}

/** `<module>: disagrees about version of symbol <symbol>`: a modversions CRC mismatch. */
export function versionMismatches(log: readonly (KernelLogRecord | string)[]): Array<{ module: string; symbol: string }> {
  const found = []
  for (const text of texts(log)) {
    const m = /^(\S+): disagrees about version of symbol (\S+)$/.exec(text)
    if (m) found.push({ module: m[1]!, symbol: m[2]! })
  }
  return found
}

/** `<module>: version magic '<theirs>' should be '<ours>'`. */
export function vermagicMismatch(log: readonly (KernelLogRecord | string)[]): { module: string; found: string; expected: string } | undefined {
  for (const text of texts(log)) {
    const m = /^(\S+): version magic '(.*)' should be '(.*)'$/.exec(text)
    if (m) return { module: m[1]!, found: m[2]!, expected: m[3]! }
  }
  return undefined
}

/** `<module>: \`<value>' invalid for parameter \`<name>'` (or `too large for parameter`). */
export function invalidParams(log: readonly (KernelLogRecord | string)[]): Array<{ module: string; value: string; param: string }> {
  const found = []
  for (const text of texts(log)) {
    const m = /^(\S+): `(.*)' (?:invalid|too large) for parameter `(.*)'$/.exec(text)
    if (m) found.push({ module: m[1]!, value: m[2]!, param: m[3]! })
  }
  return found
}

/** `<module>: unknown parameter '<name>' ignored` (a warning: the load goes on). */
export function ignoredParams(log: readonly (KernelLogRecord | string)[]): Array<{ module: string; param: string }> {
  const found = []
  for (const text of texts(log)) {
    const m = /^(\S+): unknown parameter '(.*)' ignored$/.exec(text)
    if (m) found.push({ module: m[1]!, param: m[2]! })
  }
  return found
}
