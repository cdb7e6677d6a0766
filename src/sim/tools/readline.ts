/** kmod's freadline_wrapped: logical lines of a config file, as every kmod config reader splits them. */

export interface ConfigLine {
  text: string
  /** Number of the last physical line the logical line took (what kmod's messages name). */
  linenum: number
}

/**
 * Split a config text: "\\\n" joins lines; a backslash before any other character is dropped and
 * the character kept; a last line without a newline still counts.
 * @example freadlineWrapped('a \\\nb\nc') // [{ text: 'a b', linenum: 2 }, { text: 'c', linenum: 3 }]
 */
export function freadlineWrapped(text: string): ConfigLine[] {
  const out: ConfigLine[] = []
  let buf = ''
  let linenum = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === '\n') {
      linenum++
      out.push({ text: buf, linenum })
      buf = ''
    } else if (c === '\\') {
      const next = text[i + 1]
      i++
      if (next === '\n') linenum++
      else if (next !== undefined) buf += next
    } else buf += c
  }
  if (buf !== '') out.push({ text: buf, linenum: linenum + 1 })
  return out
}
