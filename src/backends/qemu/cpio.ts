/** One entry of an initramfs archive. */
export type CpioEntry =
  | { type: 'file'; path: string; data: Uint8Array; mode?: number }
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'char'; path: string; major: number; minor: number; mode?: number }

const S_IFREG = 0o100000
const S_IFDIR = 0o040000
const S_IFLNK = 0o120000
const S_IFCHR = 0o020000

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0')
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4
}

/**
 * Writes a cpio archive in the "newc" format the kernel unpacks as an initramfs.
 * Times and owners are zero so the same inputs give the same bytes (the cache key relies on it).
 */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const chunks: Buffer[] = []
  let ino = 1
  const add = (name: string, mode: number, data: Uint8Array, rdev: [number, number] = [0, 0], nlink = 1): void => {
    const nameBytes = Buffer.from(name + '\0')
    const header = '070701' + [ino++, mode, 0, 0, nlink, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0].map(hex8).join('')
    chunks.push(Buffer.from(header, 'ascii'), nameBytes, Buffer.alloc(pad4(110 + nameBytes.length)))
    chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength), Buffer.alloc(pad4(data.length)))
  }
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '')
    switch (e.type) {
      case 'file':
        add(name, S_IFREG | (e.mode ?? 0o755), e.data)
        break
      case 'dir':
        add(name, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(0), [0, 0], 2)
        break
      case 'symlink':
        add(name, S_IFLNK | 0o777, Buffer.from(e.target))
        break
      case 'char':
        add(name, S_IFCHR | (e.mode ?? 0o600), new Uint8Array(0), [e.major, e.minor])
        break
    }
  }
  add('TRAILER!!!', 0, new Uint8Array(0))
  return Buffer.concat(chunks)
}
