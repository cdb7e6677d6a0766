/** dmesg as the VM's busybox prints it: `[    1.234567] text` lines; -c prints then clears, -C clears. */
import type { KernelLogRecord } from '../../contract/backend.js'
import type { Tool } from './context.js'

/** The `[seconds.micros] ` prefix printk puts before each line. */
export function formatRecord(r: KernelLogRecord): string {
  const s = Math.floor(r.timestampUs / 1e6)
  const us = r.timestampUs % 1e6
  return `[${String(s).padStart(5)}.${String(us).padStart(6, '0')}] ${escapeControl(r.text)}\n`
}

/** Control characters reach the terminal as `\xNN`, as the VM's dmesg prints them. */
function escapeControl(text: string): string {
  return text.replace(/[\x00-\x09\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

export const dmesg: Tool = (ctx, argv) => {
  const args = argv.slice(1)
  for (const a of args) {
    if (a !== '-c' && a !== '-C') {
      ctx.err(`dmesg: invalid option -- '${a.replace(/^-/, '')[0] ?? ''}'\n`)
      return 1
    }
  }
  if (!args.includes('-C')) ctx.out(ctx.kernel.log.visible().map(formatRecord).join(''))
  if (args.includes('-c') || args.includes('-C')) ctx.kernel.log.clear()
  return 0
}
