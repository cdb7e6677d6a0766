/**
 * Bytes from an untrusted file as a JS string without losing any: valid UTF-8 decodes as usual,
 * and each byte of an invalid sequence becomes the lone surrogate U+DC00 + byte (Python's
 * "surrogateescape"). {@link encodeRaw} gives the exact bytes back, so a tool that prints a
 * module's strings can be compared byte for byte with the real one.
 */

/** Length of the valid UTF-8 sequence at `i` (1-4), or 0 when the byte there starts none; i < end <= b.length. */
function seqLen(b: Uint8Array, i: number, end: number): number {
  const c = b[i]!
  if (c < 0x80) return 1
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < end && b[i + k]! >= lo && b[i + k]! <= hi
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0
  // 0xed 0xa0..0xbf would encode a surrogate: invalid in UTF-8.
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0
  if (c >= 0xe1 && c <= 0xef) return cont(1) && cont(2) ? 3 : 0
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0
  return 0
}

/**
 * Decode `bytes[start, end)` losslessly (see the file comment); `end` is at most `bytes.length`.
 * @example decodeRaw(Uint8Array.of(0x61, 0xff)) // 'a\udcff'
 */
export function decodeRaw(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let ascii = true
  for (let i = start; i < end; i++) {
    if (bytes[i]! >= 0x80) {
      ascii = false
      break
    }
  }
  if (ascii) return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1')
  let out = ''
  let i = start
  while (i < end) {
    const n = seqLen(bytes, i, end)
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + bytes[i]!)
      i++
    } else {
      out += Buffer.from(bytes.buffer, bytes.byteOffset + i, n).toString('utf8')
      i += n
    }
  }
  return out
}

/**
 * The bytes {@link decodeRaw} read, from a string it made (other text encodes as UTF-8).
 * @example encodeRaw('a\udcff') // Uint8Array [0x61, 0xff]
 */
export function encodeRaw(text: string): Uint8Array {
  const out: number[] = []
  for (let i = 0; i < text.length; i++) {
    const u = text.charCodeAt(i)
    const lone = u >= 0xdc80 && u <= 0xdcff && !(i > 0 && text.charCodeAt(i - 1) >= 0xd800 && text.charCodeAt(i - 1) <= 0xdbff)
    if (lone) {
      out.push(u - 0xdc00)
      continue
    }
    if (u < 0x80) {
      out.push(u)
      continue
    }
    let cp = u
    if (u >= 0xd800 && u <= 0xdbff && i + 1 < text.length) {
      const lo = text.charCodeAt(i + 1)
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00)
        i++
      }
    }
    for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out.push(b)
  }
  return Uint8Array.from(out)
}

/** Byte length of a string as {@link encodeRaw} would encode it. */
export function rawLength(text: string): number {
  return encodeRaw(text).length
}
