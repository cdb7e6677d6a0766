/**
 * The script language of `kmodspec sh`: one command a line, `#` comments, words split as a
 * POSIX shell splits them (quotes, backslashes). No variables, pipes or lists: a script is a
 * list of argv arrays, so every backend receives exactly what the user wrote.
 */
import { scriptCommand, scriptLanguage } from '../contract/script.js'

/** The commands a script may use, with the argument forms each takes (for `--help` and errors): contract/script.ts's table. */
export const scriptCommands: Readonly<Record<string, string>> = Object.fromEntries(scriptLanguage.map((c) => [c.name, c.usage]))

export interface ScriptCommand {
  /** 1-based line number in the script. */
  line: number
  /** The command as written, without its comment. */
  text: string
  argv: string[]
}

/** A script that cannot run as written; the message names the line and what to change. */
export class ScriptError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`)
    this.name = 'ScriptError'
  }
}

const unsupported: Record<string, string> = {
  '|': 'pipes are not supported: write one command a line',
  ';': "';' is not supported: write one command a line",
  '&': "'&' is not supported: commands run one after the other",
  '<': 'input redirection is not supported',
  '`': 'command substitution is not supported',
  $: "variables are not supported: write the value itself (quote a literal '$' as '\\$')",
}

/** Split one line into words as `sh` would, keeping `>` and `>>` as words of their own. */
export function splitWords(source: string, line = 1): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let i = 0
  const finish = () => {
    if (inWord) words.push(word)
    word = ''
    inWord = false
  }
  while (i < source.length) {
    const c = source[i]!
    if (c === ' ' || c === '\t') {
      finish()
      i++
    } else if (c === '#' && !inWord) {
      break
    } else if (c === "'") {
      const end = source.indexOf("'", i + 1)
      if (end < 0) throw new ScriptError("unterminated single quote: add the closing '", line)
      word += source.slice(i + 1, end)
      inWord = true
      i = end + 1
    } else if (c === '"') {
      i++
      inWord = true
      for (;;) {
        if (i >= source.length) throw new ScriptError('unterminated double quote: add the closing "', line)
        const d = source[i]!
        if (d === '"') break
        if (d === '\\' && i + 1 < source.length && '$`"\\'.includes(source[i + 1]!)) {
          word += source[i + 1]
          i += 2
        } else if (d === '$' || d === '`') {
          throw new ScriptError(unsupported[d]!, line)
        } else {
          word += d
          i++
        }
      }
      i++
    } else if (c === '\\') {
      if (i + 1 >= source.length) throw new ScriptError('a line may not end with a backslash', line)
      word += source[i + 1]
      inWord = true
      i += 2
    } else if (c === '>') {
      finish()
      const op = source[i + 1] === '>' ? '>>' : '>'
      words.push(op)
      i += op.length
    } else if (c in unsupported) {
      throw new ScriptError(unsupported[c]!, line)
    } else {
      word += c
      inWord = true
      i++
    }
  }
  finish()
  return words
}

/** Check one command's words against the language; the error names the command and the fix. */
export function checkCommand(argv: string[], line: number): void {
  const [name] = argv
  if (name === undefined) return
  const spec = scriptCommand(name)
  if (!spec) {
    const plain = name.replace(/[\uFEFF\u200B\u00A0]/g, '')
    if (plain !== name && scriptCommand(plain)) {
      throw new ScriptError(
        `'${plain}' is preceded or followed by an invisible character (${[...name]
          .filter((c) => !plain.includes(c))
          .map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`)
          .join(', ')}, e.g. a byte-order mark): delete it`,
        line,
      )
    }
    throw new ScriptError(`unknown command '${name}': use one of ${Object.keys(scriptCommands).join(', ')}`, line)
  }
  const redirects = argv.filter((w) => w === '>' || w === '>>')
  if (redirects.length > 0) {
    if (!spec.redirects) throw new ScriptError(`'${name}' cannot write to a file: only echo TEXT > FILE redirects`, line)
    const at = argv.findIndex((w) => w === '>' || w === '>>')
    if (redirects.length > 1 || at !== argv.length - 2) {
      throw new ScriptError(`echo takes one redirection followed by one file: ${scriptCommands.echo}`, line)
    }
  }
}

/** Parse a whole script; throws ScriptError naming the first bad line. */
export function parseScript(text: string): ScriptCommand[] {
  const commands: ScriptCommand[] = []
  // A byte-order mark (some Windows editors write one) is not part of the first command, as in shells.
  text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .forEach((raw, index) => {
      const line = index + 1
      const argv = splitWords(raw.replace(/\r$/, ''), line)
      if (argv.length === 0) return
      checkCommand(argv, line)
      commands.push({ line, text: commentless(raw), argv })
    })
  return commands
}

/** The line as written, without a trailing comment or surrounding blanks. */
function commentless(raw: string): string {
  let quote: string | undefined
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]
    if (quote) {
      if (c === '\\' && quote === '"') i++
      else if (c === quote) quote = undefined
    } else if (c === '\\') i++
    else if (c === "'" || c === '"') quote = c
    else if (c === '#' && (i === 0 || /\s/.test(raw[i - 1]!))) return raw.slice(0, i).trim()
  }
  return raw.trim()
}
