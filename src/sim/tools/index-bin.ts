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

interface Value {
  priority: number
  value: string
}

interface Node {
  prefix: string
  values: Value[]
  /** Created with a first child: most nodes are leaves. */
  children?: Map<number, Node>
}

const newNode = (prefix: string): Node => ({ prefix, values: [], children: undefined })

/** An in-memory index, filled with insert() and turned into bytes with write(). */
export class IndexWriter {
  private root = newNode('')

  /** Add `value` under `key`; values of one key stay sorted by priority (stable). Returns true for a duplicate value. */
  insert(key: string, value: string, priority: number): boolean {
    let node = this.root
    let i = 0
    for (;;) {
      let j = 0
      for (; j < node.prefix.length; j++) {
        if (node.prefix[j] !== key[i + j]) {
          // split: the node keeps prefix[0..j), a child at prefix[j] takes the rest
          const child: Node = { prefix: node.prefix.slice(j + 1), values: node.values, children: node.children }
          const ch = node.prefix.charCodeAt(j)
          node.prefix = node.prefix.slice(0, j)
          node.values = []
          node.children = new Map([[ch, child]])
          break
        }
      }
      i += j
      if (i >= key.length) return addValue(node.values, value, priority)
      const ch = key.charCodeAt(i)
      const next = node.children?.get(ch)
      if (!next) {
        const child = newNode(key.slice(i + 1))
        child.values.push({ priority, value })
        ;(node.children ??= new Map()).set(ch, child)
        return false
      }
      node = next
      i++
    }
  }

  /**
   * The index file's bytes: nodes written post-order into one growing buffer (children before their parent).
   * The writer is left empty, so its trie can be collected while the caller still holds the writer.
   */
  write(): Uint8Array {
    let buf = Buffer.allocUnsafe(1 << 16)
    let size = 12
    const room = (n: number) => {
      if (size + n <= buf.length) return
      const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, size + n))
      buf.copy(bigger, 0, 0, size)
      buf = bigger
    }
    const u32 = (n: number) => {
      room(4)
      buf.writeUInt32BE(n >>> 0, size)
      size += 4
    }
    const cstr = (text: string) => {
      room(text.length + 1)
      // latin1: each char's low byte (buf.write's native call costs more than these short strings)
      for (let k = 0; k < text.length; k++) buf[size++] = text.charCodeAt(k)
      buf[size++] = 0
    }
    const writeNode = (node: Node): number => {
      let first = 0
      let last = -1
      if (node.children)
        for (const c of node.children.keys()) {
          if (last < 0 || c < first) first = c
          if (c > last) last = c
        }
      const offs: number[] = []
      for (let c = first; c <= last; c++) {
        const child = node.children!.get(c)
        offs.push(child ? writeNode(child) : 0)
      }
      let offset = size
      if (node.prefix) {
        cstr(node.prefix)
        offset |= NODE_PREFIX
      }
      if (last >= 0) {
        room(2)
        buf[size++] = first
        buf[size++] = last
        for (const o of offs) u32(o)
        offset |= NODE_CHILDS
      }
      if (node.values.length) {
        u32(node.values.length)
        for (const v of node.values) {
          u32(v.priority)
          cstr(v.value)
        }
        offset |= NODE_VALUES
      }
      return offset >>> 0
    }
    const rootOffset = writeNode(this.root)
    this.root = newNode('')
    buf.writeUInt32BE(INDEX_MAGIC, 0)
    buf.writeUInt32BE(INDEX_VERSION, 4)
    buf.writeUInt32BE(rootOffset, 8)
    return buf.subarray(0, size)
  }
}

function addValue(values: Value[], value: string, priority: number): boolean {
  const duplicate = values.some((v) => v.value === value)
  let i = 0
  while (i < values.length && values[i]!.priority < priority) i++
  values.splice(i, 0, { priority, value })
  return duplicate
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
