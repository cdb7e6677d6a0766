/**
 * errno inside, kmod's text at the edge (CONVENTIONS.md point 4): kmod's own wording for some
 * errnos, on top of glibc's strerror from the contract's one errno table.
 */
import { errno, strerror } from '../../contract/errno.js'

/** glibc's strerror() and the errno numbers, from the contract's one table. */
export { errno, strerror }

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
  return openErrors.has(Math.abs(err))
}

/** What open(2) of a file to write refuses with in the simulated file system. */
const openErrors = new Set([errno.EPERM, errno.ENOENT, errno.EACCES, errno.ENOTDIR, errno.EISDIR, errno.EROFS])
