/**
 * kmod's hash table iteration order (shared/hash.c): depmod lists modules and symbols in the
 * order its hash tables iterate, so the simulator must hash exactly as kmod does to match
 * modules.dep, modules.alias and modules.symbols byte for byte.
 */

/** The key's byte at `at`: its char's low byte. */
const byteAt = (key: string, at: number) => key.charCodeAt(at) & 0xff
/** Two bytes, little-endian. */
const u16 = (key: string, at: number) => byteAt(key, at) | (byteAt(key, at + 1) << 8)
/** The byte as a C `char` (signed: kmod's key is `const char *`). */
const signedAt = (key: string, at: number) => {
  const v = byteAt(key, at)
  return v > 127 ? v - 256 : v
}

/**
 * Paul Hsieh's SuperFastHash over the key's bytes, as kmod's hash_superfast (each char's low byte, as the
 * latin1 bytes of the key; read straight from the string, as this runs cold for thousands of keys).
 */
export function hashSuperfast(key: string): number {
  let len = key.length
  let hash = len >>> 0
  const rem = len & 3
  let i = 0
  for (len >>>= 2; len > 0; len--) {
    hash = (hash + u16(key, i)) >>> 0
    const tmp = ((u16(key, i + 2) << 11) ^ hash) >>> 0
    hash = ((hash << 16) ^ tmp) >>> 0
    i += 4
    hash = (hash + (hash >>> 11)) >>> 0
  }
  switch (rem) {
    case 3:
      hash = (hash + u16(key, i)) >>> 0
      hash = (hash ^ (hash << 16)) >>> 0
      hash = (hash ^ (signedAt(key, i + 2) << 18)) >>> 0
      hash = (hash + (hash >>> 11)) >>> 0
      break
    case 2:
      hash = (hash + u16(key, i)) >>> 0
      hash = (hash ^ (hash << 11)) >>> 0
      hash = (hash + (hash >>> 17)) >>> 0
      break
    case 1:
      hash = (hash + signedAt(key, i)) >>> 0
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
  const table = new Array<string[] | undefined>(n)
  for (const k of keys) {
    const pos = hashSuperfast(k) & (n - 1)
    const list = table[pos]
    if (list) list.push(k)
    else table[pos] = [k]
  }
  const out: string[] = []
  for (const list of table) {
    if (!list) continue
    if (list.length > 1) list.sort(strcmp)
    for (const k of list) out.push(k)
  }
  return out
}
