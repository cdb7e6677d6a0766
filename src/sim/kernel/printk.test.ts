import { describe, expect, test } from 'vitest'
import { Printk } from './printk.js'

describe('printk ring buffer', () => {
  test('the KERN_ prefix gives the level; no prefix means the default level; the newline is dropped', () => {
    const p = new Printk(1000)
    p.printk('\u00016[a] info\n')
    p.printk('\u00013[a] err\n')
    p.printk('plain\n')
    expect(p.since(0).map((r) => [r.level, r.text])).toEqual([
      [6, '[a] info'],
      [3, '[a] err'],
      [4, 'plain'],
    ])
  })

  test('KERN_CONT continues an open record; a new level starts another', () => {
    const p = new Printk(0)
    p.printk('\u00016start')
    p.printk('\u0001c more\n')
    p.printk('\u00016next')
    p.printk('\u00016other\n')
    expect(p.since(0).map((r) => r.text)).toEqual(['start more', 'next', 'other'])
  })

  test('sequence numbers and timestamps only grow; clear hides but keeps numbering', () => {
    const p = new Printk(5)
    p.log(4, 'one')
    p.tick(100)
    p.log(4, 'two')
    const records = p.since(0)
    expect(records).toHaveLength(2)
    const [a, b] = [records[0]!, records[1]!]
    expect(b.seq).toBe(a.seq + 1)
    expect(b.timestampUs).toBeGreaterThan(a.timestampUs)
    p.clear()
    expect(p.visible()).toEqual([])
    p.log(4, 'three')
    expect(p.visible().map((r) => [r.seq, r.text])).toEqual([[2, 'three']])
    expect(p.since(1).map((r) => r.text)).toEqual(['two', 'three'])
    expect(p.nextSeq()).toBe(3)
  })

  test('the clock refuses to go backwards', () => {
    expect(() => new Printk(0).tick(-1)).toThrow(/forward/)
  })
})
