/**
 * errno inside, kmod's text at the edge (CONVENTIONS.md point 4): the one table that turns a
 * negative errno from the simulated kernel or file system into the words kmod's tools print.
 */
import { errno } from '../kernel/types.js'

/** glibc's strerror() for the errnos the kernel's module syscalls and file access return. */
const STRERROR: Record<number, string> = {
  1: 'Operation not permitted',
  2: 'No such file or directory',
  3: 'No such process',
  4: 'Interrupted system call',
  5: 'Input/output error',
  7: 'Argument list too long',
  8: 'Exec format error',
  9: 'Bad file descriptor',
  11: 'Resource temporarily unavailable',
  12: 'Cannot allocate memory',
  13: 'Permission denied',
  14: 'Bad address',
  16: 'Device or resource busy',
  17: 'File exists',
  19: 'No such device',
  20: 'Not a directory',
  21: 'Is a directory',
  22: 'Invalid argument',
  26: 'Text file busy',
  27: 'File too large',
  28: 'No space left on device',
  30: 'Read-only file system',
  34: 'Numerical result out of range',
  36: 'File name too long',
  38: 'Function not implemented',
  39: 'Directory not empty',
  40: 'Too many levels of symbolic links',
  61: 'No data available',
  74: 'Bad message',
  75: 'Value too large for defined data type',
  95: 'Operation not supported',
  110: 'Connection timed out',
  125: 'Operation canceled',
  126: 'Required key not available',
  127: 'Key has expired',
  128: 'Key has been revoked',
  129: 'Key was rejected by service',
}

/** strerror(3) of a positive or negative errno, as glibc words it. */
export function strerror(errno: number): string {
  const n = Math.abs(errno)
  return STRERROR[n] ?? `Unknown error ${n}`
}

/** errno numbers by name (the simulator's one table). */
export { errno }

/** insmod's mod_strerror(): what `insmod: ERROR: could not insert module X: <text>` says. */
export function insmodStrerror(err: number): string {
  switch (Math.abs(err)) {
    case errno.ENOEXEC:
      return 'Invalid module format'
    case errno.ENOENT:
      return 'Unknown symbol in module'
    case errno.ESRCH:
      return 'Module has wrong symbol version'
    case errno.EINVAL:
      return 'Invalid parameters'
    default:
      return strerror(err)
  }
}

/** modprobe's insmod_insert(): the line printed when inserting `name` failed with `err`. */
export function modprobeInsertError(name: string, err: number): string {
  switch (Math.abs(err)) {
    case errno.EEXIST:
      return `could not insert '${name}': Module already in kernel`
    case errno.ENOENT:
      return `could not insert '${name}': Unknown symbol in module, or unknown parameter (see dmesg)`
    default:
      return `could not insert '${name}': ${strerror(err)}`
  }
}

/**
 * libkmod's own error log line (kmod 30 is built with logging on): the tools print it before
 * their own message, with libkmod's source position, e.g. when delete_module fails.
 */
export function libkmodRemoveError(prog: string, name: string, err: number): string {
  return `${prog}: ERROR: ../libkmod/libkmod-module.c:856 kmod_module_remove_module() could not remove '${name}': ${strerror(err)}\n`
}

/** kmod's ELF reader: a file without ELF magic is ENOEXEC, a damaged ELF file EINVAL. */
export function elfErrno(code: string | undefined): number {
  return code === 'not-elf' ? -errno.ENOEXEC : -errno.EINVAL
}

/** Errors of opening a file for writing, as opposed to the write itself failing. */
export function isOpenError(err: number): boolean {
  return [1, 2, 13, 20, 21, 30].includes(Math.abs(err))
}
