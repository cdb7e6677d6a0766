/**
 * Quotes one word for a POSIX shell: the whole word in single quotes, each `'` as `'\''`.
 * ssh hands the remote side one command line that its login shell parses, so every word we
 * send goes through this function and nothing reaches that shell unquoted.
 *
 * @example
 * shellQuote("it's") // => 'it'\''s'
 */
export function shellQuote(word: string): string {
  if (word.includes('\0')) throw new Error(`a command word cannot contain a NUL byte: ${JSON.stringify(word)}`)
  return `'${word.replaceAll("'", `'\\''`)}'`
}

/** A whole command line of quoted words, as the remote shell will split it back into argv. */
export function shellLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ')
}
