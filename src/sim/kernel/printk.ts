import type { KernelLogRecord } from '../../backends/types.js'

/** CONFIG_MESSAGE_LOGLEVEL_DEFAULT on Debian's kernel: level of a printk without KERN_ prefix. */
export const DEFAULT_MESSAGE_LOGLEVEL = 4
export const KERN_ERR = 3
export const KERN_WARNING = 4
export const KERN_NOTICE = 5
export const KERN_INFO = 6

/** Virtual time one log record costs: printk is a few microseconds on a real machine. */
const RECORD_COST_US = 3

/**
 * The printk ring buffer with a virtual monotonic clock, like /dev/kmsg: sequence
 * numbers keep increasing across `dmesg -C`, which only moves the clear mark.
 */
export class Printk {
  private readonly records: KernelLogRecord[] = []
  private seq = 0
  private clearSeq = 0
  /** Whether the last record ended without a newline (open for KERN_CONT). */
  private open = false

  constructor(private nowUs: number) {}

  tick(us: number): void {
    if (!Number.isFinite(us) || us < 0) throw new RangeError(`tick(${us}): the clock only moves forward; pass a positive number of microseconds`)
    this.nowUs += us
  }

  now(): number {
    return this.nowUs
  }

  /** A kernel-internal pr_*(): one record at `level`. */
  log(level: number, text: string): void {
    this.emit(level, text, false)
  }

  /**
   * printk(fmt) as a module calls it: the "\x01<c>" prefixes give the level (digit),
   * continuation ('c') or default ('d'); a trailing newline ends the record.
   */
  printk(format: string): void {
    let level = -1
    let cont = false
    let s = format
    while (s.length >= 2 && s.charCodeAt(0) === 1) {
      const c = s[1]
      if (c >= '0' && c <= '7') level = c.charCodeAt(0) - 48
      else if (c === 'c') cont = true
      else if (c !== 'd') break
      s = s.slice(2)
    }
    // Only %% can be rendered without the call's arguments; other conversions stay as written.
    s = s.replace(/%%/g, '%')
    this.emit(level < 0 ? DEFAULT_MESSAGE_LOGLEVEL : level, s, cont && level < 0)
  }

  private emit(level: number, raw: string, cont: boolean): void {
    const newline = raw.endsWith('\n')
    const text = newline ? raw.slice(0, -1) : raw
    const last = this.records[this.records.length - 1]
    if (cont && this.open && last) {
      last.text += text
    } else {
      this.nowUs += RECORD_COST_US
      this.records.push({ seq: this.seq++, level, facility: 0, timestampUs: this.nowUs, text })
    }
    this.open = !newline
  }

  since(from: number): KernelLogRecord[] {
    return this.records.filter((r) => r.seq >= from).map((r) => ({ ...r }))
  }

  nextSeq(): number {
    return this.seq
  }

  clear(): void {
    this.clearSeq = this.seq
  }

  visible(): KernelLogRecord[] {
    return this.since(this.clearSeq)
  }
}
