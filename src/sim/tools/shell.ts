/**
 * The small POSIX shell behind modprobe.d's install/remove commands (libkmod runs them with
 * system(3), i.e. Debian's dash): simple commands joined by `&&`, `||` and `;`, single and double
 * quotes, backslashes, `$NAME` from the command's environment, and `>`/`>>`/`2>&1` redirections.
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

/** Split a command line into simple commands and the operators between them. */
function parse(line: string, env: Record<string, string>): Array<{ cmd: Simple; op?: Op }> {
  const out: Array<{ cmd: Simple; op?: Op }> = []
  let cmd: Simple = { words: [], redirects: [] }
  let word: Part[] | undefined
  let pendingRedirect: { fd: number; op: Redirect['op'] } | undefined
  const push = (text: string, split = false) => {
    word ??= []
    word.push({ text, split })
  }
  const endWord = () => {
    if (!word) return
    if (pendingRedirect) {
      cmd.redirects.push({ ...pendingRedirect, target: word.map((p) => p.text).join('') })
      pendingRedirect = undefined
    } else cmd.words.push(word)
    word = undefined
  }
  const endCommand = (op?: Op) => {
    endWord()
    if (pendingRedirect) throw new Unsupported('a redirection without a target')
    if (cmd.words.length === 0 && cmd.redirects.length === 0) {
      if (op) throw new Unsupported(`'${op}' without a command before it`)
      return
    }
    out.push({ cmd, op })
    cmd = { words: [], redirects: [] }
  }
  const variable = (at: number): [string, number] => {
    const m = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/.exec(line.slice(at))
    if (!m) return ['$', at + 1]
    const name = m[1] ?? m[2]!
    if (!(name in env)) throw new Unsupported(`the variable $${name}, which the simulated machine does not define`)
    return [env[name]!, at + m[0].length]
  }
  for (let i = 0; i < line.length; ) {
    const c = line[i]!
    if (c === ' ' || c === '\t' || c === '\n') {
      endWord()
      i++
    } else if (line.startsWith('&&', i) || line.startsWith('||', i)) {
      endCommand(line.slice(i, i + 2) as Op)
      i += 2
    } else if (c === ';') {
      endCommand(';')
      i++
    } else if (c === '|' || c === '&' || c === '(' || c === ')' || c === '<' || c === '`' || c === '{' || c === '}') {
      throw new Unsupported(`'${c}'`)
    } else if (c === '>' || (/[0-9]/.test(c) && line[i + 1] === '>' && !word)) {
      endWord()
      const fd = c === '>' ? 1 : Number(c)
      if (c !== '>') i++
      const op = line.startsWith('>>', i) ? '>>' : line.startsWith('>&', i) ? '>&' : '>'
      pendingRedirect = { fd, op }
      i += op.length
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1)
      if (end < 0) throw new Unsupported('an unterminated quote')
      push(line.slice(i + 1, end))
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
      push(text)
      i++
    } else if (c === '\\') {
      if (i + 1 < line.length) push(line[i + 1]!)
      i += 2
    } else if (c === '$') {
      const [value, next] = variable(i)
      push(value, true)
      i = next
    } else {
      if (c === '*' || c === '?' || c === '[') throw new Unsupported(`the pattern character '${c}'`)
      push(c)
      i++
    }
  }
  endCommand()
  return out
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
  let list: ReturnType<typeof parse>
  try {
    list = parse(line, options.env)
  } catch (e) {
    if (!(e instanceof Unsupported)) throw e
    options.note(`the install/remove command ${JSON.stringify(line)} uses ${e.message}: the simulator's shell runs simple commands joined by &&, || and ; only, so it did not run it (status 2)`)
    return 2
  }
  let status = 0
  let skip = false
  for (const { cmd, op } of list) {
    if (!skip) {
      const r = runSimple(ctx, cmd, options)
      if (r.exit !== undefined) return r.exit
      status = r.status
    }
    // a && b || c: each operator decides whether the next command runs from the status so far
    skip = op === '&&' ? status !== 0 : op === '||' ? status === 0 : false
  }
  return status
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
