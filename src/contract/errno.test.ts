// The one errno table, judged by this host's glibc (Debian 12: glibc 2.36) through perl's $!.
import { execa } from 'execa'
import { expect, test } from 'vitest'
import { errno, errnoFromText, errnoName, errnoNumber, errnoTable, strerror } from './errno.js'

test('every text in the table is what glibc strerror() says for its number', async () => {
  const numbers = errnoTable.map(([, n]) => n)
  const { stdout } = await execa('perl', ['-e', `for (${numbers.join(',')}) { $! = $_; print "$!\\n" }`])
  expect(errnoTable.map(([, , text]) => text)).toEqual(stdout.split('\n'))
})

test('every name in the table has the number Linux x86-64 gives it (perl POSIX/Errno)', async () => {
  const names = errnoTable.map(([name]) => name)
  const { stdout } = await execa('perl', ['-MErrno', '-e', `print join("\\n", map { eval "Errno::$_()" } qw(${names.join(' ')}))`])
  expect(errnoTable.map(([, n]) => String(n))).toEqual(stdout.split('\n'))
})

test('names, numbers and texts convert both ways; an unknown number is worded as glibc words it', () => {
  expect(strerror(-errno.ENXIO)).toBe('No such device or address')
  expect(strerror(errno.ENOTEMPTY)).toBe('Directory not empty')
  expect(strerror(250)).toBe('Unknown error 250')
  expect(errnoNumber('ENOTEMPTY')).toBe(39)
  expect(errnoNumber('EWOULDBLOCK')).toBe(errno.EAGAIN)
  expect(errnoNumber('ENOTANERRNO')).toBeUndefined()
  expect(errnoNumber(-19)).toBe(19)
  expect(errnoName(-11)).toBe('EAGAIN')
  expect(errnoName(250)).toBe('250')
  expect(errnoFromText('Directory not empty')).toBe(errno.ENOTEMPTY)
  expect(errnoFromText('Not an errno text')).toBeUndefined()
})
