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
