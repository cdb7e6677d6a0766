/**
 * The order kernfs (sysfs) lists a directory in: its rbtree of children sorted by name hash, then name
 * (kernfs_name_compare in fs/kernfs/dir.c, namespace NULL). readdir walks that tree, so kmod's holders
 * list (lsmod's "Used by", rmmod's "in use by") comes in this order, not alphabetically.
 */

const GOLDEN_RATIO_64 = 0x61c8864680b583ebn
const MASK_64 = (1n << 64n) - 1n
const INT_MAX = 0x7fffffff

/**
 * kernfs_name_hash(name, NULL) of Linux 6.1 on x86-64: stringhash.h's partial_name_hash over the
 * name's (signed) chars, end_name_hash (hash_64 to 32 bits), then kernfs's 31-bit range with 0, 1 and
 * INT_MAX reserved.
 * @example kernfsNameHash('bridge') // a number in [2, 0x7ffffffe]
 */
export function kernfsNameHash(name: string): number {
  const known = hashes.get(name)
  if (known !== undefined) return known
  const h = nameHash(name)
  // names repeat (every listing of /sys/module asks again): keep the last few thousand
  if (hashes.size >= 4096) hashes.clear()
  hashes.set(name, h)
  return h
}

const hashes = new Map<string, number>()

function nameHash(name: string): number {
  let hash = 0n
  for (const byte of Buffer.from(name, 'utf8')) {
    // `const char` is signed on x86: a byte >= 0x80 is sign-extended to unsigned long.
    const c = BigInt(byte >= 0x80 ? byte - 0x100 : byte) & MASK_64
    hash = ((hash + ((c << 4n) & MASK_64) + (c >> 4n)) * 11n) & MASK_64
  }
  let h = Number(((hash * GOLDEN_RATIO_64) & MASK_64) >> 32n) & INT_MAX
  if (h < 2) h += 2
  if (h >= INT_MAX) h = INT_MAX - 1
  return h
}

/**
 * Names in the order readdir gives them in a sysfs directory: by kernfs_name_hash, then strcmp.
 * @example kernfsOrder(['bridge', 'garp', 'stp']) // ['bridge', 'stp', 'garp'], as /sys/module/llc/holders lists them on 6.1
 */
export function kernfsOrder(names: readonly string[]): string[] {
  const keyed = names.map((name) => ({ name, hash: kernfsNameHash(name) }))
  keyed.sort((a, b) => a.hash - b.hash || Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
  return keyed.map((k) => k.name)
}
