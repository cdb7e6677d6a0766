/**
 * The small POSIX shell behind modprobe.d's install/remove commands (libkmod runs them with
 * system(3), i.e. Debian's dash): simple commands joined by `&&`, `||` and `;`, `{ ...; }` groups,
 * single and double quotes, backslashes, `$NAME` from the command's environment, and `>`/`>>`/`2>&1` redirections.
 * Commands are the simulated machine's tools (by name or under /sbin, /bin, /usr/sbin, /usr/bin),
 * `true`, `false`, `exit` and `:`; anything else is "not found" with dash's words and status 127.
 */
import { posix } from 'node:path'
import type { ToolContext } from './context.js'

/** A part of a word: text, and whether it came from an unquoted expansion (split on blanks). */
type Part = { text: string; split: boolean }
type Redirect = { fd: number; op: '>' | '>>' | '>&'; target: string }
interface Simple {
  words: Part[][]
  redirects: Redirect[]
}
type Op = '&&' | '||' | ';'

/** Syntax the interpreter does not model (pipes, subshells, globs...): its text, for a note. */
class Unsupported extends Error {}

const BIN_DIRS = ['/sbin', '/bin', '/usr/sbin', '/usr/bin']

type Token = { t: 'word'; parts: Part[]; plain?: string } | { t: 'op'; v: Op } | { t: 'redir'; fd: number; op: Redirect['op'] }
type Command = { simple: Simple } | { group: AndOr[] }
type AndOr = Array<{ op?: '&&' | '||'; cmd: Command }>

/** Split a command line into words (quotes removed, variables expanded), operators and redirections. */
function lex(line: string, env: Record<string, string>): Token[] {
  const out: Token[] = []
  let word: Part[] | undefined
  let quoted = false
  const push = (text: string, split = false, q = false) => {
    word ??= []
    word.push({ text, split })
    quoted ||= q
  }
  const endWord = () => {
    if (!word) return
    // an unquoted `{` or `}` may be a reserved word: the parser decides by position
    out.push(quoted ? { t: 'word', parts: word } : { t: 'word', parts: word, plain: word.map((p) => p.text).join('') })
    word = undefined
    quoted = false
  }
  const variable = (at: number): [string, number] => {
    const m = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/.exec(line.slice(at))
    if (!m) return ['$', at + 1]
    const name = m[1] ?? m[2]!
    if (!(name in env)) throw new Unsupported(`the variable $${name}, which the simulated machine does not define`)
    return [env[name]!, at + m[0].length]
  }
  for (let i = 0; i < line.length;) {
    const c = line[i]!
    if (c === ' ' || c === '\t' || c === '\n') {
      endWord()
      i++
    } else if (line.startsWith('&&', i) || line.startsWith('||', i)) {
      endWord()
      out.push({ t: 'op', v: line.slice(i, i + 2) as Op })
      i += 2
    } else if (c === ';') {
      endWord()
      out.push({ t: 'op', v: ';' })
      i++
    } else if (c === '|' || c === '&' || c === '(' || c === ')' || c === '<' || c === '`') {
      throw new Unsupported(`'${c}'`)
    } else if (c === '>' || (/[0-9]/.test(c) && line[i + 1] === '>' && !word)) {
      endWord()
      const fd = c === '>' ? 1 : Number(c)
      if (c !== '>') i++
      const op = line.startsWith('>>', i) ? '>>' : line.startsWith('>&', i) ? '>&' : '>'
      out.push({ t: 'redir', fd, op })
      i += op.length
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1)
      if (end < 0) throw new Unsupported('an unterminated quote')
      push(line.slice(i + 1, end), false, true)
      i = end + 1
    } else if (c === '"') {
      let text = ''
      i++
      for (;;) {
        if (i >= line.length) throw new Unsupported('an unterminated quote')
        const d = line[i]!
        if (d === '"') break
        if (d === '\\' && i + 1 < line.length && '$`"\\\n'.includes(line[i + 1]!)) {
          text += line[i + 1]
          i += 2
        } else if (d === '$') {
          const [value, next] = variable(i)
          text += value
          i = next
        } else if (d === '`') throw new Unsupported("'`'")
        else {
          text += d
          i++
        }
      }
      push(text, false, true)
      i++
    } else if (c === '\\') {
      if (i + 1 < line.length) push(line[i + 1]!, false, true)
      i += 2
    } else if (c === '$') {
      const [value, next] = variable(i)
      push(value, true, true)
      i = next
    } else {
      if (c === '*' || c === '?' || c === '[') throw new Unsupported(`the pattern character '${c}'`)
      push(c)
      i++
    }
  }
  endWord()
  return out
}

/** POSIX's grammar for lists: and-or lists joined by `;`, commands simple or `{ list; }`. */
function parse(tokens: Token[]): AndOr[] {
  let at = 0
  const isWord = (tok: Token | undefined, w: string) => tok?.t === 'word' && tok.plain === w
  const list = (inGroup: boolean): AndOr[] => {
    const out: AndOr[] = []
    let separated = true
    while (at < tokens.length && !(inGroup && isWord(tokens[at], '}'))) {
      const tok = tokens[at]!
      if (tok.t === 'op' && tok.v === ';') {
        if (separated) throw new Unsupported("';' without a command before it")
        separated = true
        at++
        continue
      }
      separated = false
      out.push(andOr())
      const next = tokens[at]
      if (next && !(next.t === 'op' && next.v === ';') && !(inGroup && isWord(next, '}')))
        throw new Unsupported(`'${next.t === 'op' ? next.v : 'a word'}' where a command ends`)
    }
    return out
  }
  const andOr = (): AndOr => {
    const out: AndOr = [{ cmd: command() }]
    for (let tok = tokens[at]; tok?.t === 'op' && tok.v !== ';'; tok = tokens[at]) {
      at++
      out.push({ op: tok.v as '&&' | '||', cmd: command() })
    }
    return out
  }
  const command = (): Command => {
    if (isWord(tokens[at], '{')) {
      at++
      const group = list(true)
      if (!isWord(tokens[at], '}')) throw new Unsupported("'{' without its '}'")
      at++
      return { group }
    }
    const simple: Simple = { words: [], redirects: [] }
    while (at < tokens.length) {
      const tok = tokens[at]!
      if (tok.t === 'op') break
      at++
      if (tok.t === 'word') simple.words.push(tok.parts)
      else {
        const target = tokens[at]
        if (target?.t !== 'word') throw new Unsupported('a redirection without a target')
        at++
        simple.redirects.push({ fd: tok.fd, op: tok.op, target: target.parts.map((p) => p.text).join('') })
      }
    }
    if (simple.words.length === 0 && simple.redirects.length === 0) throw new Unsupported('an operator without a command')
    return { simple }
  }
  return list(false)
}

/** Field splitting: unquoted expansions break a word on blanks; quoted text never does. */
function fields(word: Part[]): string[] {
  const out: string[] = []
  let cur: string | undefined
  for (const p of word) {
    if (!p.split) {
      cur = (cur ?? '') + p.text
      continue
    }
    const pieces = p.text.split(/[ \t\n]/)
    pieces.forEach((piece, k) => {
      if (k > 0) {
        if (cur !== undefined && cur !== '') out.push(cur)
        cur = undefined
      }
      if (piece !== '') cur = (cur ?? '') + piece
    })
  }
  if (cur !== undefined) out.push(cur)
  return out
}

/** dash's echo: arguments joined by blanks, backslash escapes interpreted, `\c` ends the output. */
function dashEcho(args: string[]): string {
  let out = ''
  const text = args.join(' ')
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c !== '\\' || i + 1 >= text.length) {
      out += c
      continue
    }
    const e = text[++i]!
    const map: Record<string, string> = { n: '\n', t: '\t', '\\': '\\', a: '\x07', b: '\b', f: '\f', r: '\r', v: '\v' }
    if (e === 'c') return out
    out += map[e] ?? `\\${e}`
  }
  return out + '\n'
}

export interface ShellOptions {
  /** Environment of the command (libkmod sets MODPROBE_MODULE). */
  env: Record<string, string>
  /** Run one tool of the simulated machine (argv[0] its bare name); returns its exit status. */
  run(ctx: ToolContext, argv: string[]): number
  /** The tool names `run` knows. */
  tools: readonly string[]
  /** Said when the line uses what the interpreter does not model; the line then fails with status 2. */
  note(text: string): void
}

/**
 * Run `line` as `sh -c line` would on the simulated machine; returns the exit status.
 * @example runShell(ctx, '/sbin/modprobe --ignore-install foo && echo ok', { env: { MODPROBE_MODULE: 'foo' }, run, tools, note })
 */
export function runShell(ctx: ToolContext, line: string, options: ShellOptions): number {
  let list: AndOr[]
  try {
    list = parse(lex(line, options.env))
  } catch (e) {
    if (!(e instanceof Unsupported)) throw e
    options.note(
      `the install/remove command ${JSON.stringify(line)} uses ${e.message}: the simulator's shell runs simple commands joined by &&, || and ; (and { ...; } groups) only, so it did not run it (status 2)`,
    )
    return 2
  }
  try {
    return runList(ctx, list, options)
  } catch (e) {
    if (e instanceof Exit) return e.status
    throw e
  }
}

/** `exit N` ends the whole shell. */
class Exit extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`)
  }
}

function runList(ctx: ToolContext, list: AndOr[], options: ShellOptions): number {
  let status = 0
  for (const andOr of list) {
    // a && b || c: each operator decides from the status so far whether its command runs
    status = runCommand(ctx, andOr[0]!.cmd, options)
    for (const { op, cmd } of andOr.slice(1)) {
      if ((op === '&&' && status === 0) || (op === '||' && status !== 0)) status = runCommand(ctx, cmd, options)
    }
  }
  return status
}

function runCommand(ctx: ToolContext, cmd: Command, options: ShellOptions): number {
  if ('group' in cmd) return runList(ctx, cmd.group, options)
  const r = runSimple(ctx, cmd.simple, options)
  if (r.exit !== undefined) throw new Exit(r.exit)
  return r.status
}

function runSimple(ctx: ToolContext, cmd: Simple, options: ShellOptions): { status: number; exit?: number } {
  const argv = cmd.words.flatMap(fields)
  let out = ctx.out
  let err = ctx.err
  const fileWriter = (target: string, append: boolean) => {
    if (target === '/dev/null') return () => {}
    const abs = ctx.vfs.resolve(target, ctx.cwd)
    if (!append) ctx.vfs.writeFile(abs, '')
    return (t: string) => ctx.vfs.writeFile(abs, t, true)
  }
  for (const r of cmd.redirects) {
    let to: (t: string) => void
    if (r.op === '>&') to = r.target === '1' ? out : r.target === '2' ? err : out
    else {
      try {
        to = fileWriter(r.target, r.op === '>>')
      } catch {
        err(`sh: 1: cannot create ${r.target}: Directory nonexistent\n`)
        return { status: 2 }
      }
    }
    if (r.fd === 1) out = to
    else if (r.fd === 2) err = to
  }
  const sub: ToolContext = { ...ctx, out, err }
  const [name, ...args] = argv
  if (name === undefined) return { status: 0 }
  if (name === 'true' || name === ':') return { status: 0 }
  if (name === 'false') return { status: 1 }
  if (name === 'exit') return { status: 0, exit: args[0] === undefined ? 0 : Number(args[0]) & 255 }
  if (name === 'echo') {
    out(dashEcho(args))
    return { status: 0 }
  }
  const base = posix.basename(name)
  const known = name.includes('/') ? BIN_DIRS.includes(posix.dirname(name)) : true
  if (known && (base === 'true' || base === 'false')) return { status: base === 'true' ? 0 : 1 }
  if (known && base === 'echo') {
    // coreutils' echo: no escapes unless -e; -n drops the newline
    const noNewline = args[0] === '-n'
    out(args.slice(noNewline ? 1 : 0).join(' ') + (noNewline ? '' : '\n'))
    return { status: 0 }
  }
  if (known && options.tools.includes(base)) return { status: options.run(sub, [base, ...args]) }
  err(`sh: 1: ${name}: not found\n`)
  return { status: 127 }
}
