/**
 * GNU getopt_long as kmod's tools use it: options may follow operands (argv is permuted),
 * `--` ends options, long options match by unambiguous prefix, and errors are glibc's words.
 */

export interface LongOption {
  name: string
  hasArg: boolean
  /** The short letter (or a private code) the option reports as. */
  val: string
}

export interface ParsedOptions {
  /** `long`: the long option's name when it was given that way. */
  opts: Array<{ opt: string; arg?: string; long?: string }>
  operands: string[]
}

/** Thrown with glibc's message (without the trailing newline). */
export class GetoptError extends Error {}

/**
 * Parse `args` (argv without argv[0]) with a getopt short string (`"F:k:V"`) and long options.
 * `prog` is the name glibc puts in front of its messages.
 */
export function getopt(prog: string, args: readonly string[], short: string, longs: LongOption[] = []): ParsedOptions {
  const opts: ParsedOptions['opts'] = []
  const operands: string[] = []
  const shortArg = (c: string): boolean | undefined => {
    const i = short.indexOf(c)
    if (i < 0 || c === ':') return undefined
    return short[i + 1] === ':'
  }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '--') {
      operands.push(...args.slice(i + 1))
      break
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=')
      const name = a.slice(2, eq < 0 ? undefined : eq)
      const exact = longs.find((l) => l.name === name)
      const matches = exact ? [exact] : longs.filter((l) => l.name.startsWith(name))
      const distinct = new Set(matches.map((m) => `${m.val}/${m.hasArg}`))
      if (matches.length === 0) throw new GetoptError(`${prog}: unrecognized option '${a.slice(0, eq < 0 ? undefined : eq)}'`)
      if (distinct.size > 1) {
        throw new GetoptError(
          `${prog}: option '${a.slice(0, eq < 0 ? undefined : eq)}' is ambiguous; possibilities:${matches.map((m) => ` '--${m.name}'`).join('')}`,
        )
      }
      const opt = matches[0]!
      if (opt.hasArg) {
        if (eq >= 0) opts.push({ opt: opt.val, arg: a.slice(eq + 1), long: opt.name })
        else if (i + 1 < args.length) opts.push({ opt: opt.val, arg: args[++i]!, long: opt.name })
        else throw new GetoptError(`${prog}: option '--${opt.name}' requires an argument`)
      } else {
        if (eq >= 0) throw new GetoptError(`${prog}: option '--${opt.name}' doesn't allow an argument`)
        opts.push({ opt: opt.val, long: opt.name })
      }
      continue
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!
        const takes = shortArg(c)
        if (takes === undefined) throw new GetoptError(`${prog}: invalid option -- '${c}'`)
        if (!takes) {
          opts.push({ opt: c })
          continue
        }
        if (j + 1 < a.length) opts.push({ opt: c, arg: a.slice(j + 1) })
        else if (i + 1 < args.length) opts.push({ opt: c, arg: args[++i]! })
        else throw new GetoptError(`${prog}: option requires an argument -- '${c}'`)
        break
      }
      continue
    }
    operands.push(a)
  }
  return { opts, operands }
}

/**
 * getopt as every kmod tool calls it: on a bad option, print glibc's message through `err` and
 * give the tool's exit status (1) instead of options, so a tool writes
 * `const parsed = parseToolOptions(...); if (typeof parsed === 'number') return parsed`.
 */
export function parseToolOptions(
  err: (text: string) => void,
  prog: string,
  args: readonly string[],
  short: string,
  longs: LongOption[] = [],
): ParsedOptions | number {
  try {
    return getopt(prog, args, short, longs)
  } catch (e) {
    if (!(e instanceof GetoptError)) throw e
    err(e.message + '\n')
    return 1
  }
}
