// /dev/kmsg's record format, as the qemu agent and the host/ssh backends read it.
import type { KernelLogRecord } from '../contract/backend.js'

/**
 * Parses one record as read(2) from /dev/kmsg returns it: "prio,seq,usec,flags[,...];text\n"
 * followed by optional " KEY=value" continuation lines. Non-printable bytes and backslashes in
 * the text arrive escaped as \xNN; they are decoded here (a multi-line message keeps its \n).
 */
export function parseKmsgRecord(raw: string): KernelLogRecord | undefined {
  const semi = raw.indexOf(';')
  if (semi < 0) return undefined
  const [prio, seq, usec] = raw.slice(0, semi).split(',').map(Number)
  if (!isFiniteNumber(prio) || !isFiniteNumber(seq) || !isFiniteNumber(usec)) return undefined
  const end = raw.indexOf('\n', semi)
  const escaped = raw.slice(semi + 1, end < 0 ? undefined : end)
  const text = decodeKmsgText(escaped)
  return { seq, level: prio & 7, facility: prio >> 3, timestampUs: usec, text }
}

const isFiniteNumber = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v)

/** Undoes /dev/kmsg's \xNN escaping (bytes, then UTF-8). */
export function decodeKmsgText(escaped: string): string {
  if (!escaped.includes('\\x')) return escaped
  const bytes: number[] = []
  const src = Buffer.from(escaped, 'utf8')
  for (let i = 0; i < src.length; i++) {
    if (src[i] === 0x5c && src[i + 1] === 0x78 && i + 3 < src.length) {
      const code = Number.parseInt(src.subarray(i + 2, i + 4).toString('ascii'), 16)
      if (Number.isFinite(code)) {
        bytes.push(code)
        i += 3
        continue
      }
    }
    bytes.push(src[i]!)
  }
  return Buffer.from(bytes).toString('utf8')
}

/**
 * Splits what dd read from /dev/kmsg into records. A record is "prio,seq,usec,flags;text\n"
 * followed by continuation lines that start with a space (" SUBSYSTEM=..."); the text's own
 * newlines arrive escaped as \x0a, so a line that does not start with a space starts a record.
 */
export function parseKmsgStream(raw: string): KernelLogRecord[] {
  const records: KernelLogRecord[] = []
  let current: string | undefined
  const flush = (): void => {
    if (current === undefined) return
    const r = parseKmsgRecord(current)
    if (r) records.push(r)
    current = undefined
  }
  for (const line of raw.split('\n')) {
    if (line.startsWith(' ') && current !== undefined) {
      current += line + '\n'
      continue
    }
    flush()
    if (line) current = line + '\n'
  }
  flush()
  return records
}
