/**
 * kmod's binary index format (modules.dep.bin, modules.alias.bin, modules.symbols.bin,
 * modules.builtin.bin): a path-compressed trie written post-order, big-endian offsets.
 * The writer builds the trie the way depmod does, so kmod's own modprobe can read the result.
 */

const INDEX_MAGIC = 0xb007f457
const INDEX_VERSION = 0x00020001
const NODE_PREFIX = 0x80000000
const NODE_VALUES = 0x40000000
const NODE_CHILDS = 0x20000000
const NODE_MASK = 0x0fffffff

/** Buffer's own latin1 encoder (each char's low byte, as the loop above writes). */
type Latin1Writer = Buffer & { latin1Write(text: string, offset: number): number }

/** Fields of a trie node in IndexWriter's table: prefix = keys[P_KEY].slice(P_FROM, P_TO); CH leads to it; first child, next sibling, first value (-1: none). */
const P_KEY = 0
const P_FROM = 1
const P_TO = 2
const CH = 3
const CHILD = 4
const NEXT = 5
const VALUES = 6
const FIELDS = 7

/**
 * An in-memory index, filled with insert() and turned into bytes with write(). The path-compressed trie is
 * built the way depmod builds it, but as a table of numbers (a node's prefix is a range of one of the keys;
 * children a sorted sibling list; values a list sorted by priority), so 50,000 keys make no objects to collect.
 */
export class IndexWriter {
  private keys: string[] = []
  private values: string[] = []
  private priorities: number[] = []
  /** FIELDS numbers a node. */
  private nodes = new Int32Array(1024 * FIELDS)
  private count = 0
  /** Per value (by insertion index): the next value of the same node, -1 at the end. */
  private vNext = new Int32Array(1024)

  constructor() {
    this.newNode(0, 0, 0, -1)
  }

  private newNode(key: number, from: number, to: number, ch: number): number {
    const n = this.count++
    const t = this.nodes
    const at = n * FIELDS
    t[at + P_KEY] = key
    t[at + P_FROM] = from
    t[at + P_TO] = to
    t[at + CH] = ch
    t[at + CHILD] = -1
    t[at + NEXT] = -1
    t[at + VALUES] = -1
    return at
  }

  /** Add `value` under `key`; a key's values are kept in priority order, a later value before an earlier one of the same priority (kmod's add_value). */
  insert(key: string, value: string, priority: number): void {
    const e = this.keys.length
    this.keys.push(key)
    this.values.push(value)
    this.priorities.push(priority)
    // room for the two nodes and the value this key may add
    if ((this.count + 2) * FIELDS > this.nodes.length) {
      const bigger = new Int32Array(this.nodes.length * 2)
      bigger.set(this.nodes)
      this.nodes = bigger
    }
    if (e >= this.vNext.length) {
      const bigger = new Int32Array(this.vNext.length * 2)
      bigger.set(this.vNext)
      this.vNext = bigger
    }
    const t = this.nodes
    const keys = this.keys
    // nodes are addressed by their first field's index in t
    let node = 0
    let i = 0
    for (;;) {
      const pk = keys[t[node + P_KEY]!]!
      const from = t[node + P_FROM]!
      const to = t[node + P_TO]!
      let j = 0
      while (from + j < to && i + j < key.length && pk.charCodeAt(from + j) === key.charCodeAt(i + j)) j++
      if (from + j < to) {
        // split: the node keeps prefix[0, j), a child at prefix[j] takes the rest, the children and the values
        const c = this.newNode(t[node + P_KEY]!, from + j + 1, to, pk.charCodeAt(from + j))
        t[c + CHILD] = t[node + CHILD]!
        t[c + VALUES] = t[node + VALUES]!
        t[node + P_TO] = from + j
        t[node + CHILD] = c
        t[node + VALUES] = -1
      }
      i += j
      if (i >= key.length) return this.addValue(node, e)
      const c = key.charCodeAt(i)
      // the sibling list is sorted by char: find c, or where it goes
      let prev = -1
      let at = t[node + CHILD]!
      while (at >= 0 && t[at + CH]! < c) {
        prev = at
        at = t[at + NEXT]!
      }
      if (at < 0 || t[at + CH] !== c) {
        const leaf = this.newNode(e, i + 1, key.length, c)
        t[leaf + NEXT] = at
        if (prev < 0) t[node + CHILD] = leaf
        else t[prev + NEXT] = leaf
        this.addValue(leaf, e)
        return
      }
      node = at
      i++
    }
  }

  /** kmod's add_value: before the first value of the node with a priority not below this one. */
  private addValue(node: number, e: number): void {
    const p = this.priorities[e]!
    const t = this.nodes
    const vNext = this.vNext
    let prev = -1
    let at = t[node + VALUES]!
    while (at >= 0 && this.priorities[at]! < p) {
      prev = at
      at = vNext[at]!
    }
    vNext[e] = at
    if (prev < 0) t[node + VALUES] = e
    else vNext[prev] = e
  }

  /**
   * The index file's bytes: nodes written post-order into one growing buffer (children before their parent).
   * The writer is left empty, so its trie can be collected while the caller still holds the writer.
   */
  write(): Uint8Array {
    const { keys, values, priorities } = this
    const t = this.nodes
    const vNext = this.vNext
    const end = this.count * FIELDS
    // the file's exact size first (each node's prefix, child table and values), so the buffer never grows
    let total = 12
    for (let node = 0; node < end; node += FIELDS) {
      if (t[node + P_TO]! > t[node + P_FROM]!) total += t[node + P_TO]! - t[node + P_FROM]! + 1
      const first = t[node + CHILD]!
      if (first >= 0) {
        let last = first
        for (let c = first; c >= 0; c = t[c + NEXT]!) last = c
        total += 2 + 4 * (t[last + CH]! - t[first + CH]! + 1)
      }
      if (t[node + VALUES]! >= 0) {
        total += 4
        for (let v = t[node + VALUES]!; v >= 0; v = vNext[v]!) total += 4 + values[v]!.length + 1
      }
    }
    const buf = Buffer.allocUnsafe(total) as Latin1Writer
    let size = 12
    const u32 = (n: number) => {
      buf[size++] = n >>> 24
      buf[size++] = n >>> 16
      buf[size++] = n >>> 8
      buf[size++] = n
    }
    // latin1: each char's low byte, then a NUL (a long text in one native call, a short one char by char)
    const chars = (text: string, from: number, to: number) => {
      if (to - from > 48 && from === 0 && to === text.length) size += buf.latin1Write(text, size)
      else for (let k = from; k < to; k++) buf[size++] = text.charCodeAt(k)
      buf[size++] = 0
    }
    // the children's offsets of the nodes being written, innermost last
    let kids = new Int32Array(1024)
    let top = 0
    const writeNode = (node: number): number => {
      const base = top
      for (let c = t[node + CHILD]!; c >= 0; c = t[c + NEXT]!) {
        const offset = writeNode(c)
        if (top === kids.length) {
          const bigger = new Int32Array(kids.length * 2)
          bigger.set(kids)
          kids = bigger
        }
        kids[top++] = offset
      }
      let offset = size
      if (t[node + P_TO]! > t[node + P_FROM]!) {
        chars(keys[t[node + P_KEY]!]!, t[node + P_FROM]!, t[node + P_TO]!)
        offset |= NODE_PREFIX
      }
      if (top > base) {
        let c = t[node + CHILD]!
        const first = t[c + CH]!
        let last = first
        for (let x = c; x >= 0; x = t[x + NEXT]!) last = t[x + CH]!
        buf[size++] = first
        buf[size++] = last
        let k = base
        for (let code = first; code <= last; code++) {
          if (t[c + CH] === code) {
            u32(kids[k++]!)
            c = t[c + NEXT]!
          } else u32(0)
        }
        top = base
        offset |= NODE_CHILDS
      }
      if (t[node + VALUES]! >= 0) {
        let count = 0
        for (let v = t[node + VALUES]!; v >= 0; v = vNext[v]!) count++
        u32(count)
        for (let v = t[node + VALUES]!; v >= 0; v = vNext[v]!) {
          u32(priorities[v]!)
          chars(values[v]!, 0, values[v]!.length)
        }
        offset |= NODE_VALUES
      }
      return offset >>> 0
    }
    const rootOffset = writeNode(0)
    this.keys = []
    this.values = []
    this.priorities = []
    this.nodes = new Int32Array(1024 * FIELDS)
    this.vNext = new Int32Array(1024)
    this.count = 0
    this.newNode(0, 0, 0, -1)
    buf.writeUInt32BE(INDEX_MAGIC, 0)
    buf.writeUInt32BE(INDEX_VERSION, 4)
    buf.writeUInt32BE(rootOffset, 8)
    return buf.subarray(0, size)
  }
}

/** Every key of an index with its values in stored order; throws on a file that is not an index. */
export function readIndex(bytes: Uint8Array): Map<string, string[]> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buf.length < 12 || buf.readUInt32BE(0) !== INDEX_MAGIC || buf.readUInt32BE(4) >>> 16 !== INDEX_VERSION >>> 16) {
    throw new Error('not a kmod index file')
  }
  const out = new Map<string, string[]>()
  const cstr = (at: number): [string, number] => {
    const end = buf.indexOf(0, at)
    if (end < 0) throw new Error('truncated kmod index file')
    return [buf.toString('latin1', at, end), end + 1]
  }
  const visit = (offset: number, key: string, depth: number) => {
    if (depth > 4096) throw new Error('corrupt kmod index file')
    let at = offset & NODE_MASK
    let prefix = ''
    if (offset & NODE_PREFIX) [prefix, at] = cstr(at)
    const here = key + prefix
    const kids: Array<[number, number]> = []
    if (offset & NODE_CHILDS) {
      const first = buf[at]!
      const last = buf[at + 1]!
      at += 2
      for (let c = first; c <= last; c++, at += 4) {
        const child = buf.readUInt32BE(at)
        if (child) kids.push([c, child])
      }
    }
    if (offset & NODE_VALUES) {
      const count = buf.readUInt32BE(at)
      at += 4
      const values: string[] = []
      for (let v = 0; v < count; v++) {
        let value: string
        ;[value, at] = cstr(at + 4)
        values.push(value)
      }
      out.set(here, values)
    }
    for (const [c, child] of kids) visit(child, here + String.fromCharCode(c), depth + 1)
  }
  visit(buf.readUInt32BE(8), '', 0)
  return out
}
