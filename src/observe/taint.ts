/**
 * The kernel's taint flags, bit by bit, as `taint_flags[]` in kernel/panic.c (v6.1):
 * bit n of /proc/sys/kernel/tainted is TAINT_FLAGS[n].
 */
export const TAINT_FLAGS = [
  { bit: 0, letter: 'P', name: 'PROPRIETARY_MODULE' },
  { bit: 1, letter: 'F', name: 'FORCED_MODULE' },
  { bit: 2, letter: 'S', name: 'CPU_OUT_OF_SPEC' },
  { bit: 3, letter: 'R', name: 'FORCED_RMMOD' },
  { bit: 4, letter: 'M', name: 'MACHINE_CHECK' },
  { bit: 5, letter: 'B', name: 'BAD_PAGE' },
  { bit: 6, letter: 'U', name: 'USER' },
  { bit: 7, letter: 'D', name: 'DIE' },
  { bit: 8, letter: 'A', name: 'OVERRIDDEN_ACPI_TABLE' },
  { bit: 9, letter: 'W', name: 'WARN' },
  { bit: 10, letter: 'C', name: 'CRAP' },
  { bit: 11, letter: 'I', name: 'FIRMWARE_WORKAROUND' },
  { bit: 12, letter: 'O', name: 'OOT_MODULE' },
  { bit: 13, letter: 'E', name: 'UNSIGNED_MODULE' },
  { bit: 14, letter: 'L', name: 'SOFTLOCKUP' },
  { bit: 15, letter: 'K', name: 'LIVEPATCH' },
  { bit: 16, letter: 'X', name: 'AUX' },
  { bit: 17, letter: 'T', name: 'RANDSTRUCT' },
  { bit: 18, letter: 'N', name: 'TEST' },
] as const

/** Letters of the set bits of a taint mask, in the kernel's table order (e.g. 12288 → 'OE'). */
export function taintLetters(mask: number | bigint): string {
  const bits = BigInt(mask)
  return TAINT_FLAGS.filter((f) => (bits >> BigInt(f.bit)) & 1n)
    .map((f) => f.letter)
    .join('')
}

/** `/proc/sys/kernel/tainted` (a decimal mask) → taint letters. */
export function parseTainted(text: string): string {
  const value = text.trim()
  if (!/^\d+$/.test(value)) throw new Error(`not a taint mask: '${value}' (expected a decimal number)`)
  return taintLetters(BigInt(value))
}

/** True when every letter of `wanted` is among `letters` ('OE' includes 'E'). */
export function hasTaint(letters: string, wanted: string): boolean {
  return [...wanted].every((letter) => letters.includes(letter))
}
