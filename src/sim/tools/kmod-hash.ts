/**
 * kmod's hash table iteration order (shared/hash.c): depmod lists modules and symbols in the
 * order its hash tables iterate, so the simulator must hash exactly as kmod does to match
 * modules.dep, modules.alias and modules.symbols byte for byte.
 */

let scratch = new Uint8Array(256)

/** Paul Hsieh's SuperFastHash over the key's bytes, as kmod's hash_superfast. */
export function hashSuperfast(key: string): number {
  // latin1 bytes (each char's low byte), without a Buffer per key
  if (scratch.length < key.length) scratch = new Uint8Array(key.length * 2)
  const b = scratch
  for (let k = 0; k < key.length; k++) b[k] = key.charCodeAt(k)
  let len = key.length
  let hash = len >>> 0
  const rem = len & 3
  let i = 0
  const u16 = (at: number) => b[at]! | (b[at + 1]! << 8)
  for (len >>>= 2; len > 0; len--) {
    hash = (hash + u16(i)) >>> 0
    const tmp = ((u16(i + 2) << 11) ^ hash) >>> 0
    hash = ((hash << 16) ^ tmp) >>> 0
    i += 4
    hash = (hash + (hash >>> 11)) >>> 0
  }
  const sc = (v: number) => (v > 127 ? v - 256 : v) // key is `const char *`: signed
  switch (rem) {
    case 3:
      hash = (hash + u16(i)) >>> 0
      hash = (hash ^ (hash << 16)) >>> 0
      hash = (hash ^ (sc(b[i + 2]!) << 18)) >>> 0
      hash = (hash + (hash >>> 11)) >>> 0
      break
    case 2:
      hash = (hash + u16(i)) >>> 0
      hash = (hash ^ (hash << 11)) >>> 0
      hash = (hash + (hash >>> 17)) >>> 0
      break
    case 1:
      hash = (hash + sc(b[i]!)) >>> 0
      hash = (hash ^ (hash << 10)) >>> 0
      hash = (hash + (hash >>> 1)) >>> 0
  }
  hash = (hash ^ (hash << 3)) >>> 0
  hash = (hash + (hash >>> 5)) >>> 0
  hash = (hash ^ (hash << 4)) >>> 0
  hash = (hash + (hash >>> 17)) >>> 0
  hash = (hash ^ (hash << 25)) >>> 0
  hash = (hash + (hash >>> 6)) >>> 0
  return hash
}

/** strcmp order on bytes. */
function strcmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The keys of a kmod hash with `buckets` buckets, in hash_iter order (bucket, then strcmp). */
export function kmodHashOrder(keys: Iterable<string>, buckets: number): string[] {
  const n = 2 ** Math.ceil(Math.log2(buckets))
  const table = new Map<number, string[]>()
  for (const k of keys) {
    const pos = hashSuperfast(k) & (n - 1)
    const list = table.get(pos)
    if (list) list.push(k)
    else table.set(pos, [k])
  }
  const out: string[] = []
  for (const pos of [...table.keys()].sort((a, b) => a - b)) out.push(...table.get(pos)!.sort(strcmp))
  return out
}
