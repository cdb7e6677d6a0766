// The installed module tree (issue 9): kernel({ tree: 'installed' }) gives the run the kernel's own
// /lib/modules/<release>, so a user's module that needs an in-tree one is modprobe'd from it, and the
// tree's modules show their holders in the kernel's order.
import { test } from 'vitest'
import { kernel } from 'kmodspec'

test("modprobe of a user's module that needs libcrc32c: installed next to the tree, depmod'ed, loaded with its dependency", async () => {
  await kernel({ modules: 'fixtures/tree', tree: 'installed' })
    .install('crc_user')
    .depmod()
    .run(['modinfo', '-F', 'depends', 'crc_user'])
    .expectOutput('libcrc32c')
    .modprobe('crc_user')
    .expectDmesg('crc_user: loaded, libcrc32c called')
    .expectLoaded('libcrc32c', { refcount: 1, holders: ['crc_user'] })
    .expectLoadOrder(['crc32c_generic', 'libcrc32c', 'crc_user'])
    .rmmod('libcrc32c')
    .expectError('in-use', { by: ['crc_user'] })
    .modprobeRemove('crc_user')
    .expectDmesg('crc_user: unloaded')
    .expectNotLoaded('crc_user')
    .expectNotLoaded('libcrc32c')
})

test("llc's holders: lsmod and rmmod in sysfs's order (kernfs name hash), /proc/modules newest user first", async () => {
  await kernel({ tree: 'installed' })
    .modprobe('bridge')
    .modprobe('garp')
    .run(['lsmod'])
    .expectOutput(/^llc\s+\d+\s+3 bridge,stp,garp$/m)
    .run(['cat', '/proc/modules'])
    .expectOutput(/^llc \d+ 3 garp,bridge,stp, Live /m)
    .rmmod('llc')
    .expectError('in-use', { by: ['bridge', 'stp', 'garp'] })
    .expectOutput('rmmod: ERROR: Module llc is in use by: bridge stp garp')
    .modprobeRemove('garp')
    .modprobeRemove('bridge')
    .expectNotLoaded('bridge')
})
