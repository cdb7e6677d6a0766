import { expect, test } from 'vitest'
import { loadEmbeddedProfile } from '../../profile/index.js'
import { kernelArgs } from './boot.js'
import { createSimKernel } from './index.js'

test("kernelArgs splits as the kernel's next_arg does: quotes around a value or a whole word, -- ends", () => {
  expect(kernelArgs(' a.b=1  "c.d=x y" e.f="p q" g -- h.i=2')).toEqual([
    { param: 'a.b', val: '1' },
    { param: 'c.d', val: 'x y' },
    { param: 'e.f', val: 'p q' },
    { param: 'g', val: null },
  ])
})

test('built-in parameters take the command line at boot; the rest of /sys/module is as captured', () => {
  const k = createSimKernel({ profile: loadEmbeddedProfile(), cmdline: 'printk.time=0 printk.ignore_loglevel 8250.nr_uarts=2 8250.share_irqs=x' })
  expect(k.readFile('/proc/cmdline')).toBe('printk.time=0 printk.ignore_loglevel 8250.nr_uarts=2 8250.share_irqs=x\n')
  expect(k.readFile('/sys/module/printk/parameters/time')).toBe('N\n')
  expect(k.readFile('/sys/module/printk/parameters/ignore_loglevel')).toBe('Y\n')
  expect(k.readFile('/sys/module/8250/parameters/nr_uarts')).toBe('2\n')
  // an invalid value leaves the boot value (the kernel complains at boot, before any step)
  expect(k.readFile('/sys/module/8250/parameters/share_irqs')).toBe('1\n')
  expect(k.readFile('/sys/module/tcp_cubic/version')).toBe('2.3\n')
  expect(k.listDir('/sys/module/8250')).toEqual(['parameters', 'uevent'])
  expect(k.readFile('/proc/version')).toMatch(/^Linux version 6\.1\.0-56-amd64 \(debian-kernel@lists\.debian\.org\)/)
  expect(k.writeFile('/sys/module/printk/parameters/time', 'Y')).toBe(-13)
  expect(k.takeNotes().some((n) => n.includes('permissions of built-in parameter time'))).toBe(true)
})
