// glibc's strerror texts for the errnos a module load or unload can return (x86-64 numbering).
const ERRNOS: Array<[name: string, errno: number, text: string]> = [
  ['EPERM', 1, 'Operation not permitted'],
  ['ENOENT', 2, 'No such file or directory'],
  ['ESRCH', 3, 'No such process'],
  ['EINTR', 4, 'Interrupted system call'],
  ['EIO', 5, 'Input/output error'],
  ['ENXIO', 6, 'No such device or address'],
  ['E2BIG', 7, 'Argument list too long'],
  ['ENOEXEC', 8, 'Exec format error'],
  ['EAGAIN', 11, 'Resource temporarily unavailable'],
  ['ENOMEM', 12, 'Cannot allocate memory'],
  ['EACCES', 13, 'Permission denied'],
  ['EFAULT', 14, 'Bad address'],
  ['EBUSY', 16, 'Device or resource busy'],
  ['EEXIST', 17, 'File exists'],
  ['ENODEV', 19, 'No such device'],
  ['EINVAL', 22, 'Invalid argument'],
  ['ENOSPC', 28, 'No space left on device'],
  ['ERANGE', 34, 'Numerical result out of range'],
  ['ENOSYS', 38, 'Function not implemented'],
  ['ENODATA', 61, 'No data available'],
  ['ETIME', 62, 'Timer expired'],
  ['EOPNOTSUPP', 95, 'Operation not supported'],
  ['ETIMEDOUT', 110, 'Connection timed out'],
  ['ECANCELED', 125, 'Operation canceled'],
  ['EKEYREJECTED', 129, 'Key was rejected by service'],
]

/** strerror text → positive errno, or undefined for a text not in the table. */
export function errnoFromText(text: string): number | undefined {
  return ERRNOS.find(([, , t]) => t === text)?.[1]
}

/** 'ENODEV' | 19 | -19 → 19; undefined for an unknown name. */
export function errnoNumber(value: string | number): number | undefined {
  if (typeof value === 'number') return Math.abs(value)
  return ERRNOS.find(([name]) => name === value)?.[1]
}

/** 19 → 'ENODEV' (or the number as text when not in the table). */
export function errnoName(errno: number): string {
  return ERRNOS.find(([, n]) => n === Math.abs(errno))?.[0] ?? String(Math.abs(errno))
}
