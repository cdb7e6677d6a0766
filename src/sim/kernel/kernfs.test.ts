// sysfs lists a directory in kernfs's name-hash order; the expected orders are the VM's (fixtures/tree/holders.sh, captured).
import { expect, test } from 'vitest'
import { kernfsNameHash, kernfsOrder } from './kernfs.js'

test("the holders orders the real kernel showed: llc's bridge,stp,garp and core_lkm's prop_ok,client_lkm", () => {
  expect(kernfsOrder(['bridge', 'garp', 'stp'])).toEqual(['bridge', 'stp', 'garp'])
  expect(kernfsOrder(['client_lkm', 'prop_ok'])).toEqual(['prop_ok', 'client_lkm'])
})

test('the hash stays in kernfs range: 31 bits, 0, 1 and INT_MAX reserved; equal names hash equal', () => {
  for (const name of ['', 'a', 'llc', 'x'.repeat(200), 'nf_conntrack_netlink', '\u00e9t\u00e9']) {
    const h = kernfsNameHash(name)
    expect(h).toBeGreaterThanOrEqual(2)
    expect(h).toBeLessThan(0x7fffffff)
    expect(kernfsNameHash(name)).toBe(h)
  }
  expect(kernfsNameHash('')).toBe(2) // hash 0 -> end_name_hash 0 -> reserved, moved to 2
})
