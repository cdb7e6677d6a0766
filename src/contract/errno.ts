/**
 * errno inside, text at the edge (CONVENTIONS.md point 4): the one errno table of kmodspec. Names
 * and numbers are x86-64 Linux's (asm-generic/errno-base.h, errno.h); each text is glibc 2.36's
 * strerror(3), checked against the host's glibc by errno.test.ts. kmod's own wording for some
 * errnos (insmod's "Unknown symbol in module"...) stays in sim/tools/errors.ts as overrides.
 */
const ERRNOS = [
  ['EPERM', 1, 'Operation not permitted'],
  ['ENOENT', 2, 'No such file or directory'],
  ['ESRCH', 3, 'No such process'],
  ['EINTR', 4, 'Interrupted system call'],
  ['EIO', 5, 'Input/output error'],
  ['ENXIO', 6, 'No such device or address'],
  ['E2BIG', 7, 'Argument list too long'],
  ['ENOEXEC', 8, 'Exec format error'],
  ['EBADF', 9, 'Bad file descriptor'],
  ['EAGAIN', 11, 'Resource temporarily unavailable'],
  ['ENOMEM', 12, 'Cannot allocate memory'],
  ['EACCES', 13, 'Permission denied'],
  ['EFAULT', 14, 'Bad address'],
  ['EBUSY', 16, 'Device or resource busy'],
  ['EEXIST', 17, 'File exists'],
  ['ENODEV', 19, 'No such device'],
  ['ENOTDIR', 20, 'Not a directory'],
  ['EISDIR', 21, 'Is a directory'],
  ['EINVAL', 22, 'Invalid argument'],
  ['ETXTBSY', 26, 'Text file busy'],
  ['EFBIG', 27, 'File too large'],
  ['ENOSPC', 28, 'No space left on device'],
  ['EROFS', 30, 'Read-only file system'],
  ['ERANGE', 34, 'Numerical result out of range'],
  ['ENAMETOOLONG', 36, 'File name too long'],
  ['ENOSYS', 38, 'Function not implemented'],
  ['ENOTEMPTY', 39, 'Directory not empty'],
  ['ELOOP', 40, 'Too many levels of symbolic links'],
  ['ENODATA', 61, 'No data available'],
  ['ETIME', 62, 'Timer expired'],
  ['ENOPKG', 65, 'Package not installed'],
  ['EBADMSG', 74, 'Bad message'],
  ['EOVERFLOW', 75, 'Value too large for defined data type'],
  ['EOPNOTSUPP', 95, 'Operation not supported'],
  ['ETIMEDOUT', 110, 'Connection timed out'],
  ['ECANCELED', 125, 'Operation canceled'],
  ['ENOKEY', 126, 'Required key not available'],
  ['EKEYEXPIRED', 127, 'Key has expired'],
  ['EKEYREVOKED', 128, 'Key has been revoked'],
  ['EKEYREJECTED', 129, 'Key was rejected by service'],
] as const satisfies ReadonlyArray<readonly [name: string, errno: number, text: string]>

/** An errno name of the table, e.g. 'ENODEV'. */
export type ErrnoName = (typeof ERRNOS)[number][0] | 'EWOULDBLOCK'

/** Every row of the table: name, positive number, glibc's strerror text. */
export const errnoTable: ReadonlyArray<readonly [name: string, errno: number, text: string]> = ERRNOS

/**
 * errno numbers by name (EWOULDBLOCK is EAGAIN's other name, as in errno.h).
 *
 * @example
 * errno.ENOENT // 2; a syscall returns -errno.ENOENT
 */
export const errno = Object.freeze({
  ...Object.fromEntries(ERRNOS.map(([name, n]) => [name, n])),
  EWOULDBLOCK: 11,
}) as Readonly<Record<ErrnoName, number>>

/**
 * glibc's strerror(3) of a positive or negative errno.
 *
 * @example
 * strerror(-2) // 'No such file or directory'; strerror(250) is 'Unknown error 250', as glibc says
 */
export function strerror(err: number): string {
  const n = Math.abs(err)
  return ERRNOS.find(([, number]) => number === n)?.[2] ?? `Unknown error ${n}`
}

/**
 * strerror text → positive errno, or undefined for a text not in the table.
 *
 * @example
 * errnoFromText('No such device') // 19
 */
export function errnoFromText(text: string): number | undefined {
  return ERRNOS.find(([, , t]) => t === text)?.[1]
}

/**
 * 'ENODEV' | 19 | -19 → 19; undefined for an unknown name.
 *
 * @example
 * errnoNumber('EWOULDBLOCK') // 11
 */
export function errnoNumber(value: string | number): number | undefined {
  if (typeof value === 'number') return Math.abs(value)
  return Object.hasOwn(errno, value) ? errno[value as ErrnoName] : undefined
}

/**
 * 19 → 'ENODEV' (or the number as text when not in the table).
 *
 * @example
 * errnoName(-11) // 'EAGAIN'
 */
export function errnoName(err: number): string {
  return ERRNOS.find(([, n]) => n === Math.abs(err))?.[0] ?? String(Math.abs(err))
}
