import type { KernelLogRecord } from '../types.js'
import { parseKmsgRecord } from '../qemu/kmsg.js'

/**
 * What reads the kernel log on the target: GNU dd reading /dev/kmsg without blocking (each read(2)
 * returns one record; 8 KiB is more than the kernel's longest record). dd stops with EAGAIN once it
 * has read every record there is, so its exit code is 1 and its stderr says so.
 */
export const kmsgReader = ['dd', 'if=/dev/kmsg', 'iflag=nonblock', 'bs=8192', 'status=none'] as const

/** True when dd's stderr says only that it reached the end of the log (EAGAIN). */
export function kmsgReadEndedCleanly(stderr: string): boolean {
  return stderr.trim() === '' || /^dd: error reading '\/dev\/kmsg': Resource temporarily unavailable\s*$/.test(stderr.trim())
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
