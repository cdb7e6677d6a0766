// Built-in modules: kmod asks the release's modules.builtin index before /sys/module, and the
// kernel shows built-ins with parameters under /sys/module without an initstate.
// Pinned to 6.1: fixtures/builtin holds 6.1's index, where unix is built in (6.12 builds it as a module).
import { test } from 'vitest'
import { kernel } from 'kmodspec'

const release = '6.1.0-56-amd64'
const dir = `/lib/modules/${release}`

test('builtin: rmmod and modprobe -r of a module built into the kernel', async () => {
  await kernel({ release })
    .run(['mkdir', '-p', dir])
    .run(['cp', 'fixtures/builtin/modules.builtin', 'fixtures/builtin/modules.builtin.modinfo', dir])
    .run(['depmod', '-a'])
    .run(['rmmod', 'unix'])
    .expectError('builtin')
    .run(['modprobe', '-r', 'unix'])
    .expectError('builtin')
    .run(['modinfo', '-F', 'alias', 'unix'])
    .expectOutput('net-pf-1')
    .modprobe('unix')
})

test('builtin: a built-in /sys/module directory the index does not name cannot be unloaded', async () => {
  await kernel().run(['cat', '/sys/module/printk/parameters/time']).expectOutput('Y').run(['rmmod', 'printk']).expectError('builtin')
})
