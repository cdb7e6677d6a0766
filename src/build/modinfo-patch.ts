/**
 * Same-length edits of a built module's `.modinfo`, to make a module the kernel rejects
 * without rebuilding it (the bad_vermagic fixture).
 */

/** Byte range of a section in an ELF64 little-endian file, or undefined when absent. */
export function findSection(elf: Uint8Array, name: string): { offset: number; size: number } | undefined {
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength)
  const isElf64Le = elf.length >= 64 && view.getUint32(0) === 0x7f454c46 && elf[4] === 2 && elf[5] === 1
  if (!isElf64Le) throw new Error('not an ELF64 little-endian file')
  const shoff = Number(view.getBigUint64(0x28, true))
  const shentsize = view.getUint16(0x3a, true)
  const shnum = view.getUint16(0x3c, true)
  const shstrndx = view.getUint16(0x3e, true)
  const header = (i: number) => shoff + i * shentsize
  if (shnum === 0 || header(shnum) > elf.length) throw new Error('section headers lie outside the file')
  const strtab = Number(view.getBigUint64(header(shstrndx) + 0x18, true))
  const wanted = new TextEncoder().encode(name + '\0')
  for (let i = 0; i < shnum; i++) {
    const nameOffset = strtab + view.getUint32(header(i), true)
    const candidate = elf.subarray(nameOffset, nameOffset + wanted.length)
    if (candidate.length === wanted.length && candidate.every((b, k) => b === wanted[k])) {
      return { offset: Number(view.getBigUint64(header(i) + 0x18, true)), size: Number(view.getBigUint64(header(i) + 0x20, true)) }
    }
  }
  return undefined
}

/**
 * Replace `from` with `to` (same length) inside the `key=` entry of `.modinfo`; returns a new
 * buffer. Throws if the section, the key or the text is missing.
 *
 * @example patchModinfo(ko, 'vermagic', 'mod_unload', 'mod_unl0ad')
 */
export function patchModinfo(elf: Uint8Array, key: string, from: string, to: string): Uint8Array {
  if (from.length !== to.length) throw new Error(`'${from}' and '${to}' differ in length: a .modinfo patch must keep every offset`)
  const section = findSection(elf, '.modinfo')
  if (!section) throw new Error('the module has no .modinfo section')
  const out = Uint8Array.from(elf)
  const modinfo = Buffer.from(out.buffer, section.offset, section.size)
  let start = 0
  while (start < modinfo.length) {
    let end = modinfo.indexOf(0, start)
    if (end < 0) end = modinfo.length
    const entry = modinfo.toString('latin1', start, end)
    if (entry.startsWith(`${key}=`)) {
      const at = entry.indexOf(from, key.length + 1)
      if (at < 0) throw new Error(`.modinfo ${entry} does not contain '${from}'`)
      modinfo.write(to, start + at, 'latin1')
      return out
    }
    start = end + 1
  }
  throw new Error(`the module's .modinfo has no ${key}= entry`)
}
