// How values and calls look in failure messages: like the TypeScript the user wrote.

/** Longest value, command or output line a message shows whole; the error's fields keep the full text. */
export const CLIP_AT = 1000

/**
 * A long text cut, with an ellipsis and its full length, as vitest cuts long strings.
 * @example clip('a'.repeat(5000)) // 'aaa…a… (5000 characters)'
 */
export function clip(text: string, max = CLIP_AT): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`
}

/** Every line of a text clipped (messages quote command output line by line). */
export function clipLines(text: string, max = CLIP_AT): string {
  return text.length <= max
    ? text
    : text
        .split('\n')
        .map((l) => clip(l, max))
        .join('\n')
}

/** A value as a user would have written it in a spec (long strings clipped). */
export function formatValue(value: unknown): string {
  if (typeof value === 'string' && value.length > CLIP_AT) return `${formatValue(value.slice(0, CLIP_AT))}… (${value.length} characters)`
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
  if (value instanceof RegExp) return String(value)
  if (Array.isArray(value)) return `[${value.map(formatValue).join(', ')}]`
  if (value && typeof value === 'object') {
    if ('name' in value && (value as { kind?: unknown }).kind === 'kmodspec.module') return `defineModule(${formatValue((value as { name: string }).name)})`
    const entries = Object.entries(value).filter(([, v]) => v !== undefined)
    if (entries.length === 0) return '{}'
    return `{ ${entries.map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : formatValue(k)}: ${formatValue(v)}`).join(', ')} }`
  }
  return String(value)
}

/** `insmod('hello_api', { n: 1 })`: trailing undefined arguments are left out. */
export function formatCall(method: string, args: readonly unknown[]): string {
  const given = [...args]
  while (given.length > 0 && given.at(-1) === undefined) given.pop()
  return `${method}(${given.map(formatValue).join(', ')})`
}

/** Indent every line after the first so a multi-line value lines up after its label. */
export function hang(text: string, width: number): string {
  return text.split('\n').join('\n' + ' '.repeat(width))
}

/** One argv word as a shell user would read it. */
export function shellWord(word: string): string {
  return word === '' || /[\s'"\\$`|&;<>()*?]/.test(word) ? `'${word.replace(/'/g, `'\\''`)}'` : word
}
