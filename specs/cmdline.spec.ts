// Module options on the kernel command line: built-ins take them at boot, modprobe adds
// `mod.param=value` words to the options it passes.
import { test } from 'vitest'
import { kernel } from 'kmodspec'

test('cmdline: params.count=5 reaches modprobe; printk.time=0 reaches the built-in printk', async () => {
  await kernel({ modules: 'fixtures/errors', cmdline: 'params.count=5 printk.time=0' })
    .run(['cat', '/sys/module/printk/parameters/time'])
    .expectOutput('N')
    .install('params')
    .depmod()
    .modprobe('params')
    .run(['cat', '/sys/module/params/parameters/count'])
    .expectOutput('5')
    .modprobeRemove('params')
})
