import { describe, expect, test } from 'vitest'
import { normalizeText } from './normalize.js'

describe('normalizeText', () => {
  test("%p's boot-keyed hash is masked; NULL, raw addresses and other numbers are not taken for one", () => {
    // Two VMs booted with different keys (the first value is from fixtures/captures/printk-formats.json).
    const vm = 'kfmt: p=000000009e8324e4 0000000000000000 fffffffffffffff4|'
    const sim = 'kfmt: p=00000000d4e9c248 0000000000000000 fffffffffffffff4|'
    expect(normalizeText(vm)).toBe('kfmt: p=HASHED ADDRESS ADDRESS|')
    expect(normalizeText(sim)).toBe(normalizeText(vm))
    expect(normalizeText('px=ffff888012345678 0x00000000deadbeef 10000000deadbeef 00000000beef')).toBe(
      'px=ADDRESS 0x00000000deadbeef 10000000deadbeef 00000000beef',
    )
  })
})
