// The binary segment the facts cache and depmod's helper thread use: entries come back as they went in,
// an entry UTF-8 cannot hold is left out, and bytes that are not a whole segment are refused.
import { describe, expect, test } from 'vitest'
import type { DepmodFacts } from './depmod-read.js'
import { decodeSegment, encodeSegment } from './depmod-segment.js'

const a: DepmodFacts = {
  err: 0,
  aliases: ['pci:v00008086d*', 'fs-vfat'],
  softdeps: ['pre: nls'],
  exports: ['api_test'],
  needs: ['printk', 'api_test', 'kfree'],
  weak: [2],
}
const b: DepmodFacts = { err: -2, aliases: [], softdeps: [], exports: [], needs: ['printk', 'kfree'], weak: [] }
const odd: DepmodFacts = { err: 0, aliases: ['caf\u00e9', 'bad\udcff'], softdeps: [], exports: [], needs: [], weak: [] }

describe('cache segments', () => {
  test('entries round-trip, strings shared between them included; stamps keep their nanoseconds', () => {
    const seg = encodeSegment([
      ['/m/a.ko', { size: 1234, mtimeMs: 1700000000123.4568 }, a],
      ['/m/b.ko', { size: 1, mtimeMs: 2 }, b],
    ])
    expect(seg.length % 8).toBe(0)
    const got = decodeSegment(seg, 0)!
    expect(got.next).toBe(seg.length)
    expect(got.entries).toEqual([
      ['/m/a.ko', { size: 1234, mtimeMs: 1700000000123.4568, facts: a }],
      ['/m/b.ko', { size: 1, mtimeMs: 2, facts: b }],
    ])
    // one string per distinct string: both entries' 'printk' is the same string
    expect(got.entries[0]![1].facts.needs[0]).toBe(got.entries[1]![1].facts.needs[0])
  })

  test('an entry with a lone surrogate (raw bytes UTF-8 cannot hold) is left out, the others kept', () => {
    const got = decodeSegment(
      encodeSegment([
        ['/m/odd.ko', { size: 1, mtimeMs: 1 }, odd],
        ['/m/b.ko', { size: 1, mtimeMs: 2 }, b],
      ]),
      0,
    )!
    expect(got.entries.map(([key]) => key)).toEqual(['/m/b.ko'])
  })

  test('an empty segment, and bytes that are not a whole segment', () => {
    const empty = encodeSegment([])
    expect(decodeSegment(empty, 0)).toEqual({ entries: [], next: empty.length })
    const seg = encodeSegment([['/m/a.ko', { size: 1, mtimeMs: 1 }, a]])
    expect(decodeSegment(seg.subarray(0, seg.length - 8), 0)).toBeUndefined()
    const bad = Buffer.from(seg)
    bad.writeUInt32LE(0xdeadbeef, 0)
    expect(decodeSegment(bad, 0)).toBeUndefined()
    // the entry's key as a string index past the table (the ints follow the header, the strings and the stamps)
    const wild = Buffer.from(seg)
    const ints = 24 + ((wild.readUInt32LE(12) + 7) & ~7) + wild.readUInt32LE(16) * 16
    expect(decodeSegment(wild, 0)?.entries[0]?.[0]).toBe('/m/a.ko')
    wild.writeInt32LE(1 << 20, ints)
    expect(decodeSegment(wild, 0)).toBeUndefined()
  })
})
