/** The busybox applets of the script language: cat, ls, mkdir, cp, rm, echo (with > / >>). */
import { posix } from 'node:path'
import { VfsError } from '../vfs.js'
import { abspath, type Tool, type ToolContext } from './context.js'
import { errno, isOpenError, strerror } from './errors.js'

const errnoOf = (e: unknown): number => {
  if (e instanceof VfsError) return e.errno
  throw e
}

export const cat: Tool = (ctx, argv) => {
  let rc = 0
  for (const file of argv.slice(1)) {
    const abs = abspath(ctx, file)
    const st = ctx.vfs.stat(abs)
    if (!st) {
      ctx.err(`cat: can't open '${file}': ${strerror(errno.ENOENT)}\n`)
      rc = 1
    } else if (st.type === 'dir') {
      ctx.err(`cat: read error: ${strerror(21)}\n`)
      rc = 1
    } else {
      try {
        ctx.out(ctx.vfs.readText(abs))
      } catch (e) {
        ctx.err(`cat: can't open '${file}': ${strerror(errnoOf(e))}\n`)
        rc = 1
      }
    }
  }
  return rc
}

export const ls: Tool = (ctx, argv) => {
  const targets = argv.slice(1).filter((a) => !a.startsWith('-') || a === '-')
  if (targets.length === 0) targets.push('.')
  let rc = 0
  const files: string[] = []
  const dirs: string[] = []
  for (const t of targets) {
    const st = ctx.vfs.stat(abspath(ctx, t))
    if (!st) {
      ctx.err(`ls: ${t}: ${strerror(errno.ENOENT)}\n`)
      rc = 1
    } else if (st.type === 'dir') dirs.push(t)
    else files.push(t)
  }
  let out = files
    .sort()
    .map((f) => f + '\n')
    .join('')
  for (const d of dirs.sort()) {
    const names = ctx.vfs.readdir(abspath(ctx, d)).filter((n) => !n.startsWith('.'))
    if (targets.length > 1) out += `${out ? '\n' : ''}${d}:\n`
    out += names
      .sort()
      .map((n) => n + '\n')
      .join('')
  }
  ctx.out(out)
  return rc
}

export const mkdir: Tool = (ctx, argv) => {
  const parents = argv.includes('-p')
  let rc = 0
  for (const d of argv.slice(1).filter((a) => !a.startsWith('-'))) {
    try {
      ctx.vfs.mkdir(abspath(ctx, d), parents)
    } catch (e) {
      ctx.err(`mkdir: can't create directory '${d}': ${strerror(errnoOf(e))}\n`)
      rc = 1
    }
  }
  return rc
}

export const cp: Tool = (ctx, argv) => {
  const args = argv.slice(1).filter((a) => !a.startsWith('-'))
  if (args.length < 2) {
    ctx.err('cp: missing file operand\n')
    return 1
  }
  const dest = args[args.length - 1]!
  const sources = args.slice(0, -1)
  const destAbs = abspath(ctx, dest)
  const destIsDir = ctx.vfs.stat(destAbs)?.type === 'dir'
  if (sources.length > 1 && !destIsDir) {
    ctx.err(`cp: '${dest}' is not a directory\n`)
    return 1
  }
  let rc = 0
  for (const src of sources) {
    const srcAbs = abspath(ctx, src)
    const st = ctx.vfs.stat(srcAbs)
    if (!st) {
      ctx.err(`cp: can't stat '${src}': ${strerror(errno.ENOENT)}\n`)
      rc = 1
      continue
    }
    if (st.type === 'dir') {
      ctx.err(`cp: omitting directory '${src}'\n`)
      rc = 1
      continue
    }
    const target = destIsDir ? posix.join(destAbs, posix.basename(srcAbs)) : destAbs
    const shown = destIsDir ? posix.join(dest, posix.basename(src)) : dest
    try {
      ctx.vfs.writeFile(target, ctx.vfs.readFile(srcAbs))
    } catch (e) {
      ctx.err(`cp: can't create '${shown}': ${strerror(errnoOf(e))}\n`)
      rc = 1
    }
  }
  return rc
}

export const rm: Tool = (ctx, argv) => {
  const force = argv.includes('-f')
  let rc = 0
  for (const f of argv.slice(1).filter((a) => !a.startsWith('-'))) {
    const abs = abspath(ctx, f)
    const st = ctx.vfs.stat(abs)
    if (st?.type === 'dir') {
      ctx.err(`rm: '${f}' is a directory\n`)
      rc = 1
      continue
    }
    try {
      ctx.vfs.unlink(abs)
    } catch (e) {
      if (force && errnoOf(e) === errno.ENOENT) continue
      ctx.err(`rm: can't remove '${f}': ${strerror(errnoOf(e))}\n`)
      rc = 1
    }
  }
  return rc
}

/** echo; a lone `>` or `>>` word sends the text to the file after it, as the shell would. */
export const echo: Tool = (ctx: ToolContext, argv) => {
  const words = argv.slice(1)
  const at = words.findIndex((w) => w === '>' || w === '>>')
  const noNewline = words[0] === '-n'
  const text = words.slice(noNewline ? 1 : 0, at < 0 ? undefined : at).join(' ') + (noNewline ? '' : '\n')
  if (at < 0) {
    ctx.out(text)
    return 0
  }
  const file = words[at + 1]
  if (file === undefined) {
    ctx.err('sh: syntax error: unexpected newline\n')
    return 2
  }
  try {
    ctx.vfs.writeFile(abspath(ctx, file), text, words[at] === '>>')
  } catch (e) {
    const err = errnoOf(e)
    // the VM's agent runs busybox echo with its output opened on FILE
    ctx.err(isOpenError(err) ? `echo: can't create ${file}: ${strerror(err)}\n` : `echo: write error: ${strerror(err)}\n`)
    return 1
  }
  return 0
}
