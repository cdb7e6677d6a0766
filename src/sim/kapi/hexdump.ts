// hex_dump_to_buffer and print_hex_dump of lib/hexdump.c (Linux 6.1).
import type { KernelFunction } from '../cpu/types.js'
import { fmtOptions, type KapiContext } from './context.js'
import { concat, readCString, utf8 } from './guest.js'
import { listVa } from './va.js'
import { vsprintf } from './vsprintf.js'

/** One line as hex_dump_to_buffer writes it with a buffer large enough (print_hex_dump's is). */
export function hexDumpLine(bytes: Uint8Array, rowsize: number, groupsize: number, ascii: boolean): string {
  if (rowsize !== 16 && rowsize !== 32) rowsize = 16
  const len = Math.min(bytes.length, rowsize)
  if (![1, 2, 4, 8].includes(groupsize) || len % groupsize !== 0) groupsize = 1
  const ngroups = len / groupsize
  const asciiColumn = rowsize * 2 + rowsize / groupsize + 1
  if (!len) return ''
  const view = new DataView(bytes.buffer, bytes.byteOffset, len)
  let line: string
  if (groupsize === 1) line = Array.from(bytes.subarray(0, len), (b) => b.toString(16).padStart(2, '0')).join(' ')
  else {
    const groups: string[] = []
    for (let j = 0; j < ngroups; j++) {
      const at = j * groupsize
      const v = groupsize === 8 ? view.getBigUint64(at, true) : groupsize === 4 ? view.getUint32(at, true) : view.getUint16(at, true)
      groups.push(v.toString(16).padStart(groupsize * 2, '0'))
    }
    line = groups.join(' ')
  }
  if (!ascii) return line
  line = line.padEnd(asciiColumn, ' ')
  return line + Array.from(bytes.subarray(0, len), (c) => (c >= 0x20 && c <= 0x7e ? String.fromCharCode(c) : '.')).join('')
}

/**
 * @example hexdumpFunctions(ctx).print_hex_dump(call) // (KERN_INFO, "pfx ", DUMP_PREFIX_OFFSET, 16, 1, buf, 20, true)
 */
export function hexdumpFunctions(ctx: KapiContext): Record<string, KernelFunction> {
  const mem = ctx.memory
  return {
    hex_dump_to_buffer: (call) => {
      const len = Number(call.arg(1))
      const rowsize = Number(BigInt.asIntN(32, call.arg(2)))
      const groupsize = Number(BigInt.asIntN(32, call.arg(3)))
      const linebuflen = Number(call.arg(5))
      const ascii = (call.arg(6) & 0xffn) !== 0n
      const row = rowsize === 32 ? 32 : 16
      const n = Math.min(len, row)
      const line = utf8(hexDumpLine(n ? mem.read(call.arg(0), n) : new Uint8Array(0), rowsize, groupsize, ascii))
      if (linebuflen > line.length) {
        mem.write(call.arg(4), concat([line, new Uint8Array(1)]))
        return line.length
      }
      // The kernel's overflow return: the length the whole line would need.
      const g = [1, 2, 4, 8].includes(groupsize) && n % groupsize === 0 ? groupsize : 1
      if (linebuflen > 0) mem.write(call.arg(4) + BigInt(linebuflen - 1), new Uint8Array(1))
      return ascii ? row * 2 + row / g + 1 + n : (g * 2 + 1) * (n / g) - 1
    },
    print_hex_dump: (call) => {
      const level = readCString(mem, call.arg(0))
      const prefix = readCString(mem, call.arg(1))
      const type = Number(call.arg(2) & 0xffffffffn)
      let rowsize = Number(BigInt.asIntN(32, call.arg(3)))
      const groupsize = Number(BigInt.asIntN(32, call.arg(4)))
      const buf = call.arg(5)
      const len = Number(call.arg(6))
      const ascii = (call.arg(7) & 0xffn) !== 0n
      if (rowsize !== 16 && rowsize !== 32) rowsize = 16
      for (let i = 0; i < len; i += rowsize) {
        const n = Math.min(len - i, rowsize)
        const line = utf8(hexDumpLine(mem.read(buf + BigInt(i), n), rowsize, groupsize, ascii))
        // DUMP_PREFIX_ADDRESS prints the row's address with %p (hashed), OFFSET with %.8x.
        const where =
          type === 1
            ? vsprintf(mem, '%p: ', listVa([buf + BigInt(i)]), fmtOptions(ctx))
            : type === 2
              ? utf8(`${i.toString(16).padStart(8, '0')}: `)
              : new Uint8Array(0)
        ctx.printk.store(concat([level, prefix, where, line, utf8('\n')]), { caller: ctx.caller?.() ?? 0 })
      }
    },
  }
}
