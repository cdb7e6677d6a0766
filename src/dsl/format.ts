// How values and calls look in failure messages: like the TypeScript the user wrote.

/** A value as a user would have written it in a spec. */
export function formatValue(value: unknown): string {
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
