// CONFIG_DEBUG_LIST's checks (lib/list_debug.c), refcount_warn_saturate (lib/refcount.c) and the
// dynamic debug print entry points (lib/dynamic_debug.c) of 6.1: small kernel routines modules call
// through list_add/list_del, refcount_t and pr_debug/dev_dbg.
import type { KernelFunction } from '../cpu/types.js'
import { cstringArg, fmtOptions, note, type KapiContext } from './context.js'
import { concat, readCString, readUint, utf8, writeUint } from './guest.js'
import { KernelBug } from './heap.js'
import { deviceNames } from './printk.js'
import { listVa } from './va.js'
import { vsprintf } from './vsprintf.js'

const LIST_POISON1 = 0xdead000000000100n
const LIST_POISON2 = 0xdead000000000122n
/** REFCOUNT_SATURATED: INT_MIN / 2. */
const REFCOUNT_SATURATED = 0xc0000000n

/**
 * CHECK_DATA_CORRUPTION with CONFIG_BUG_ON_DATA_CORRUPTION=y (Debian): pr_err the message, then
 * BUG() at the line of the check.
 */
function corruption(ctx: KapiContext, line: number, fmt: string, args: bigint[]): never {
  const text = vsprintf(ctx.memory, `\x013${fmt}`, listVa(args), fmtOptions(ctx))
  ctx.printk.store(text, { caller: ctx.caller?.() ?? 0 })
  throw new KernelBug(`kernel BUG at lib/list_debug.c:${line}!`, 'bug', new TextDecoder().decode(text.subarray(2)).trim())
}

const REFCOUNT_MESSAGES: Record<number, [number, string]> = {
  0: [19, 'saturated; leaking memory'],
  1: [22, 'saturated; leaking memory'],
  2: [25, 'addition on 0; use-after-free'],
  3: [28, 'underflow; use-after-free'],
  4: [31, 'decrement hit 0; leaking memory'],
}

/**
 * @example listFunctions(ctx).__list_add_valid(call) // 1, or the kernel's "list_add corruption" BUG
 */
export function listFunctions(ctx: KapiContext): Record<string, KernelFunction> {
  const mem = ctx.memory
  const next = (p: bigint) => readUint(mem, p, 8)
  const prev = (p: bigint) => readUint(mem, p + 8n, 8)
  const warned = new Set<number>()
  const debugPrefix = (desc: bigint): string => {
    // struct _ddebug: modname, function, filename, format, then lineno:18 class_id:6 flags:8.
    const word = readUint(mem, desc + 32n, 4)
    const flags = Number((word >> 24n) & 0xffn)
    if (!(flags & 0x1e)) return ''
    const str = (off: bigint) => new TextDecoder().decode(readCString(mem, readUint(mem, desc + off, 8)))
    let s = ''
    if (flags & 0x10) s += `[${ctx.caller?.() ?? 0}] `
    const after = s.length
    if (flags & 0x02) s += `${str(0n)}:`
    if (flags & 0x04) s += `${str(8n)}:`
    if (flags & 0x08) s += `${Number(word & 0x3ffffn)}:`
    if (s.length > after) s += ' '
    return s.slice(0, 63)
  }
  const fns: Record<string, KernelFunction> = {
    __list_add_valid: (call) => {
      const [n, p, x] = [call.arg(0), call.arg(1), call.arg(2)]
      if (p === 0n) corruption(ctx, 23, 'list_add corruption. prev is NULL.\n', [])
      if (x === 0n) corruption(ctx, 25, 'list_add corruption. next is NULL.\n', [])
      if (prev(x) !== p) corruption(ctx, 27, 'list_add corruption. next->prev should be prev (%px), but was %px. (next=%px).\n', [p, prev(x), x])
      if (next(p) !== x) corruption(ctx, 30, 'list_add corruption. prev->next should be next (%px), but was %px. (prev=%px).\n', [x, next(p), p])
      if (n === p || n === x) corruption(ctx, 33, 'list_add double add: new=%px, prev=%px, next=%px.\n', [n, p, x])
      return 1
    },
    __list_del_entry_valid: (call) => {
      const e = call.arg(0)
      const p = prev(e)
      const x = next(e)
      if (x === 0n) corruption(ctx, 49, 'list_del corruption, %px->next is NULL\n', [e])
      if (p === 0n) corruption(ctx, 51, 'list_del corruption, %px->prev is NULL\n', [e])
      if (x === LIST_POISON1) corruption(ctx, 53, 'list_del corruption, %px->next is LIST_POISON1 (%px)\n', [e, LIST_POISON1])
      if (p === LIST_POISON2) corruption(ctx, 56, 'list_del corruption, %px->prev is LIST_POISON2 (%px)\n', [e, LIST_POISON2])
      if (next(p) !== e) corruption(ctx, 59, 'list_del corruption. prev->next should be %px, but was %px. (prev=%px)\n', [e, next(p), p])
      if (prev(x) !== e) corruption(ctx, 62, 'list_del corruption. next->prev should be %px, but was %px. (next=%px)\n', [e, prev(x), x])
      return 1
    },
    // refcount_warn_saturate(r, t): saturate, then WARN_ONCE per message (lib/refcount.c).
    refcount_warn_saturate: (call) => {
      writeUint(mem, call.arg(0), 4, REFCOUNT_SATURATED)
      const [line, msg] = REFCOUNT_MESSAGES[Number(call.arg(1) & 0xffffffffn)] ?? [34, 'unknown saturation event!?']
      if (warned.has(line)) return
      warned.add(line)
      ctx.printk.store(utf8('\x014------------[ cut here ]------------\n'), { caller: ctx.caller?.() ?? 0 })
      ctx.printk.store(utf8(`refcount_t: ${msg}.\n`), { caller: ctx.caller?.() ?? 0 })
      if (ctx.warn) ctx.warn({ file: 'lib/refcount.c', line, func: 'refcount_warn_saturate' })
      else note(ctx, `refcount_warn_saturate: the kernel prints a WARNING report (lib/refcount.c:${line}) and taints W; the simulator printed only its message`)
    },
    // pr_debug/dev_dbg reach these only when their call site is enabled (dynamic debug keys start off).
    __dynamic_pr_debug: (call) => {
      const body = vsprintf(mem, cstringArg(call, 1), call.varargs(2), fmtOptions(ctx))
      ctx.printk.store(concat([utf8(`\x017${debugPrefix(call.arg(0))}`), body]), { caller: ctx.caller?.() ?? 0 })
    },
    __dynamic_dev_dbg: (call) => {
      const body = vsprintf(mem, cstringArg(call, 2), call.varargs(3), fmtOptions(ctx))
      const dev = call.arg(1)
      if (dev === 0n) return void ctx.printk.store(concat([utf8('\x017(NULL device *): '), body]), { caller: ctx.caller?.() ?? 0 })
      const { driver, name } = deviceNames(ctx, dev, 'dev_dbg')
      ctx.printk.store(concat([utf8(`${debugPrefix(call.arg(0))}${driver} ${name}: `), body]), { level: 7, devInfo: true, caller: ctx.caller?.() ?? 0 })
    },
  }
  // 6.6+ (CONFIG_LIST_HARDENED) exports the checks as *_or_report, same arguments and result.
  fns.__list_add_valid_or_report = fns.__list_add_valid!
  fns.__list_del_entry_valid_or_report = fns.__list_del_entry_valid!
  return fns
}
