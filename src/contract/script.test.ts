// The one table of the script language, against what each side builds from it.
import { expect, test } from 'vitest'
import { toolTable } from '../sim/tools/table.js'
import { BackendError, isKernelFailure, UsageError } from './errors.js'
import { parseCommand, scriptCommand, scriptCommandNames, scriptLanguage, unknownCommandError } from './script.js'

test('the simulator runs exactly the commands of the table', () => {
  expect(Object.keys(toolTable())).toEqual(scriptCommandNames)
})

test('each row is consistent: kmod tools are symlinks under /sbin, busybox applets run /bin/busybox, only echo redirects', () => {
  for (const c of scriptLanguage) {
    expect(c.usage.split(' ')[0]).toBe(c.name)
    if (c.provider === 'kmod') expect(c.vmPath).toBe(`/sbin/${c.name}`)
    if (c.provider === 'busybox') expect(c.vmPath).toBe('/bin/busybox')
  }
  expect(scriptLanguage.filter((c) => c.redirects).map((c) => c.name)).toEqual(['echo'])
  expect(scriptLanguage.filter((c) => c.changesKernel).map((c) => c.name)).toEqual(['insmod', 'rmmod', 'modprobe'])
  expect(scriptCommand('toString')).toBeUndefined()
})

test('parseCommand splits one redirection and refuses what no backend runs, in the words every backend uses', () => {
  expect(parseCommand(['echo', 'a', '>>', 'f'], 'ssh')).toEqual({ command: ['echo', 'a'], redirect: '>>', file: 'f' })
  expect(parseCommand(['lsmod'], 'qemu')).toEqual({ command: ['lsmod'], redirect: '', file: '' })
  expect(() => parseCommand([], 'qemu')).toThrow(expect.objectContaining({ kind: 'usage', message: 'empty command' }))
  expect(() => parseCommand(['echo', 'x', '>'], 'qemu')).toThrow("'echo x >': a redirection takes exactly one file after '>'")
  expect(() => parseCommand(['echo', 'x', '>', 'a', 'b'], 'qemu')).toThrow("a redirection takes exactly one file after '>'")
  expect(() => parseCommand(['frobnicate'], 'host')).toThrow(
    "unknown command 'frobnicate': the host backend runs insmod, rmmod, lsmod, modinfo, modprobe, depmod, dmesg, cat, ls, mkdir, cp, rm, echo",
  )
  expect(unknownCommandError('x', 'sim')).toMatchObject({ kind: 'usage' })
})

test('a refusal is a UsageError: still a BackendError of kind usage, never a kernel failure', () => {
  const e = unknownCommandError('x', 'sim')
  expect(e).toBeInstanceOf(UsageError)
  expect(e).toBeInstanceOf(BackendError)
  expect(isKernelFailure(e)).toBe(false)
  expect(isKernelFailure(new BackendError('the kernel reported an oops', 'oops', 'BUG: ...'))).toBe(true)
  expect(isKernelFailure(new BackendError('timed out', 'timeout'))).toBe(false)
})
