// Decoded instructions shared between simulated kernels. A module loaded on a fresh kernel lands at the
// same address with the same relocated bytes as on the last one, so its code pages decode the same: the
// decoded-instruction table of a code page is found by the page's address and compared bytes, instead of
// a new 4096-slot table (32 KiB) filled again on every kernel. A page written after that gets a new table
// (SparseMemory drops `page.code` on a write), so a table never serves bytes it was not decoded from.
import { Buffer } from 'node:buffer'
import { PAGE_SIZE, type Page } from './memory.js'

interface Shared {
  key: number
  bytes: Buffer
  code: unknown[]
}

const byPage = new Map<number, Shared[]>()
/** Oldest first: when more than LIMIT tables are kept, the oldest goes. */
const order: Shared[] = []
const LIMIT = 256

/**
 * The decoded-instruction table for `page` (page number `key`, addr >> 12 with the high half folded in):
 * one decoded from the same bytes at the same address, or a new empty one.
 * @example page.code = codeTable(page, pageKey(lo, hi))
 */
export function codeTable(page: Page, key: number): unknown[] {
  const bytes = Buffer.from(page.data.buffer, page.data.byteOffset, PAGE_SIZE)
  const list = byPage.get(key)
  if (list) for (const s of list) if (s.bytes.equals(bytes)) return s.code
  const s: Shared = { key, bytes: Buffer.from(bytes), code: new Array(PAGE_SIZE) }
  if (list) list.push(s)
  else byPage.set(key, [s])
  order.push(s)
  if (order.length > LIMIT) {
    const old = order.shift()!
    const l = byPage.get(old.key)!
    l.splice(l.indexOf(old), 1)
    if (l.length === 0) byPage.delete(old.key)
  }
  return s.code
}
