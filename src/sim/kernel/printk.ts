import type { KernelLogRecord } from '../../contract/backend.js'

/** CONFIG_MESSAGE_LOGLEVEL_DEFAULT on Debian's kernel: level of a printk without KERN_ prefix. */
export const DEFAULT_MESSAGE_LOGLEVEL = 4
export const KERN_EMERG = 0
export const KERN_ALERT = 1
export const KERN_CRIT = 2
export const KERN_ERR = 3
export const KERN_WARNING = 4
export const KERN_NOTICE = 5
export const KERN_INFO = 6
export const KERN_DEBUG = 7
/** LOGLEVEL_DEFAULT: "no level given", resolved to the default message loglevel. */
export const LOGLEVEL_DEFAULT = -1
/** kernel/printk/printk.c: CONSOLE_LOG_MAX (1024) - PREFIX_MAX (32, no CONFIG_PRINTK_CALLER). */
export const LOG_LINE_MAX = 992

/** Virtual time one log record costs: printk is a few microseconds on a real machine. */
const RECORD_COST_US = 3
const SOH = 1
const NL = 10

/** Options of {@link Printk.store}: what vprintk_store gets besides the formatted text. */
export interface StoreOptions {
  /** An explicit level (dev_printk_emit passes one); otherwise the KERN_ prefix or the default. */
  level?: number
  /** printk_caller_id(): the task that prints; KERN_CONT only joins a record of the same caller. */
  caller?: number
  /** dev_printk's device info: such a record is always complete (LOG_NEWLINE). */
  devInfo?: boolean
}

interface Stored {
  rec: KernelLogRecord
  bytes: Uint8Array
  /** Finalized: closed by its newline or by the next record; only these are visible to readers. */
  final: boolean
  caller: number
}

/** printk_get_level(): the level or 'c' after a KERN_SOH at `i`, or 0 (end <= b.length). */
function levelAt(b: Uint8Array, i: number, end = b.length): number {
  if (i + 1 >= end || b[i] !== SOH) return 0
  const c = b[i + 1]!
  return (c >= 0x30 && c <= 0x37) || c === 0x63 ? c : 0
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * The printk ring buffer with a virtual monotonic clock, like /dev/kmsg: sequence
 * numbers keep increasing across `dmesg -C`, which only moves the clear mark.
 * A record left without a newline stays open for KERN_CONT and, as in 6.1's ring buffer,
 * readers see it only once it is finalized (by its newline or by the next record).
 */
export class Printk {
  private readonly records: Stored[] = []
  private seq = 0
  private clearSeq = 0

  constructor(private nowUs: number) {}

  tick(us: number): void {
    if (!Number.isFinite(us) || us < 0) throw new RangeError(`tick(${us}): the clock only moves forward; pass a positive number of microseconds`)
    this.nowUs += us
  }

  now(): number {
    return this.nowUs
  }

  /** A kernel-internal pr_*(): one complete record at `level`. */
  log(level: number, text: string): void {
    this.store(encoder.encode(`${text}\n`), { level })
  }

  /**
   * printk(fmt) without arguments: the "\x01<c>" prefixes give the level (digit),
   * continuation ('c'); a trailing newline ends the record. Only %% is rendered.
   */
  printk(format: string): void {
    this.store(encoder.encode(format.replace(/%%/g, '%')))
  }

  /**
   * vprintk_store() given what vsnprintf produced for the format and its arguments: the level and
   * KERN_CONT come from the prefixes in the first 7 bytes, the record is cut to LOG_LINE_MAX - 1
   * bytes (a cut message loses its newline and stays open), a trailing newline ends it, and a
   * KERN_CONT fragment joins the open record of the same caller if both fit in LOG_LINE_MAX.
   * Returns the number of bytes stored, as printk returns it.
   *
   * @example p.store(new TextEncoder().encode('\x016hello\n'), { caller: 42 }) // 5
   */
  store(formatted: Uint8Array, options: StoreOptions = {}): number {
    const caller = options.caller ?? 0
    const reserve = Math.min(formatted.length + 1, LOG_LINE_MAX)
    let level = options.level ?? LOGLEVEL_DEFAULT
    let cont = false
    // The level and flags come from an 8-byte vsnprintf of the message: its first 7 bytes.
    const head = Math.min(formatted.length, 7)
    for (let i = 0; levelAt(formatted, i, head); i += 2) {
      const c = formatted[i + 1]! // levelAt() just read it
      if (c === 0x63) cont = true
      else if (level === LOGLEVEL_DEFAULT) level = c - 0x30
    }
    if (level === LOGLEVEL_DEFAULT) level = DEFAULT_MESSAGE_LOGLEVEL
    let newline = options.devInfo === true
    let text = formatted.subarray(0, reserve - 1)
    if (text.length > 0 && text[text.length - 1] === NL) {
      text = text.subarray(0, text.length - 1)
      newline = true
    }
    let skip = 0
    while (levelAt(text, skip)) skip += 2
    text = text.subarray(skip)

    const last = this.records[this.records.length - 1]
    if (cont && last && !last.final && last.caller === caller && last.bytes.length + reserve <= LOG_LINE_MAX) {
      const joined = new Uint8Array(last.bytes.length + text.length)
      joined.set(last.bytes)
      joined.set(text, last.bytes.length)
      last.bytes = joined
      last.rec.text = decoder.decode(joined)
      if (newline) last.final = true
      return text.length
    }
    if (last) last.final = true
    this.nowUs += RECORD_COST_US
    const rec: KernelLogRecord = { seq: this.seq++, level: level & 7, facility: 0, timestampUs: this.nowUs, text: decoder.decode(text) }
    this.records.push({ rec, bytes: text.slice(), final: newline, caller })
    return text.length
  }

  since(from: number): KernelLogRecord[] {
    // Records are stored in seq order: start at the first one >= from (a binary search) instead of filtering the whole log.
    let lo = 0
    let hi = this.records.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.records[mid]!.rec.seq < from) lo = mid + 1
      else hi = mid
    }
    const out: KernelLogRecord[] = []
    for (let i = lo; i < this.records.length; i++) {
      const r = this.records[i]!
      if (r.final) out.push({ ...r.rec })
    }
    return out
  }

  /** The sequence number of the first record a reader has not seen: an open record counts as unseen. */
  nextSeq(): number {
    const last = this.records[this.records.length - 1]
    return last && !last.final ? last.rec.seq : this.seq
  }

  clear(): void {
    this.clearSeq = this.nextSeq()
  }

  visible(): KernelLogRecord[] {
    return this.since(this.clearSeq)
  }
}
