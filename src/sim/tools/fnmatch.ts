/** fnmatch(3) as kmod calls it, without flags: alias patterns and install/remove/softdep names. */

/**
 * Match `text` against a shell pattern (`*`, `?`, `[...]`, `[!...]`).
 * @example fnmatch('pci:v*d*', 'pci:v00008086d00001234') // true
 */
export function fnmatch(pattern: string, text: string): boolean {
  if (!/[*?[]/.test(pattern)) return pattern === text
  let re = '^'
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '*') re += '.*'
    else if (c === '?') re += '.'
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2)
      if (end < 0) {
        re += '\\['
        continue
      }
      let body = pattern.slice(i + 1, end)
      if (body.startsWith('!')) body = '^' + body.slice(1)
      re += '[' + body.replace(/\\/g, '\\\\') + ']'
      i = end
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&')
  }
  return new RegExp(re + '$', 's').test(text)
}
