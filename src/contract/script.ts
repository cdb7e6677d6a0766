/**
 * The script language every backend runs: one table of its commands, and the one parser of a
 * command's redirection. `kmodspec sh` checks scripts against it (cli/script.ts), the simulator
 * runs its tools by these names (sim/tools), the qemu backend builds its initramfs from it and runs
 * each program at its path in the VM, and the host/ssh backends accept exactly these names.
 */
import { UsageError } from './errors.js'

/** One command of the script language. */
export interface ScriptCommandSpec {
  /** argv[0]. */
  readonly name: string
  /** Its argument forms, for `kmodspec sh --help` and error messages. */
  readonly usage: string
  /** Whose program runs it on a real machine, so whose option parsing and messages it has. */
  readonly provider: 'kmod' | 'util-linux' | 'busybox'
  /** The program's path in the qemu backend's VM (kmod's tools are symlinks to kmod: argv[0] picks the tool). */
  readonly vmPath: string
  /** True when it may load or unload modules (writing a file under /sys or /proc is judged per file). */
  readonly changesKernel: boolean
  /** True when `> FILE` or `>> FILE` may end it: the backend opens FILE itself, no shell is involved. */
  readonly redirects: boolean
}

/** The commands, in the order `--help` and error messages list them. */
export const scriptLanguage: readonly ScriptCommandSpec[] = [
  { name: 'insmod', usage: 'insmod [-f] FILE [PARAM=VALUE...]', provider: 'kmod', vmPath: '/sbin/insmod', changesKernel: true, redirects: false },
  { name: 'rmmod', usage: 'rmmod [-f] NAME...', provider: 'kmod', vmPath: '/sbin/rmmod', changesKernel: true, redirects: false },
  { name: 'lsmod', usage: 'lsmod', provider: 'kmod', vmPath: '/sbin/lsmod', changesKernel: false, redirects: false },
  {
    name: 'modinfo',
    usage: 'modinfo [-F FIELD|--field FIELD|-p] NAME|FILE',
    provider: 'kmod',
    vmPath: '/sbin/modinfo',
    changesKernel: false,
    redirects: false,
  },
  {
    name: 'modprobe',
    usage: 'modprobe [-r] [-v] [-n] [-q] [-a] [-D|--show-depends] NAME... [PARAM=VALUE...]',
    provider: 'kmod',
    vmPath: '/sbin/modprobe',
    changesKernel: true,
    redirects: false,
  },
  { name: 'depmod', usage: 'depmod [-a] [-A] [-n] [-b DIR] [RELEASE]', provider: 'kmod', vmPath: '/sbin/depmod', changesKernel: false, redirects: false },
  { name: 'dmesg', usage: 'dmesg [-c|-C]', provider: 'util-linux', vmPath: '/bin/dmesg', changesKernel: false, redirects: false },
  { name: 'cat', usage: 'cat FILE...', provider: 'busybox', vmPath: '/bin/busybox', changesKernel: false, redirects: false },
  { name: 'ls', usage: 'ls DIR', provider: 'busybox', vmPath: '/bin/busybox', changesKernel: false, redirects: false },
  { name: 'mkdir', usage: 'mkdir -p DIR', provider: 'busybox', vmPath: '/bin/busybox', changesKernel: false, redirects: false },
  { name: 'cp', usage: 'cp FILE... DIR', provider: 'busybox', vmPath: '/bin/busybox', changesKernel: false, redirects: false },
  { name: 'rm', usage: 'rm FILE', provider: 'busybox', vmPath: '/bin/busybox', changesKernel: false, redirects: false },
  { name: 'echo', usage: 'echo TEXT... > FILE  (or >> FILE)', provider: 'busybox', vmPath: '/bin/busybox', changesKernel: false, redirects: true },
]

/** The command names, in table order. */
export const scriptCommandNames: readonly string[] = scriptLanguage.map((c) => c.name)

/**
 * The table's row for a command name, or undefined for a name outside the language.
 *
 * @example
 * scriptCommand('insmod')?.vmPath // '/sbin/insmod'
 */
export function scriptCommand(name: string): ScriptCommandSpec | undefined {
  return scriptLanguage.find((c) => c.name === name)
}

/** The refusal every backend gives a command outside the language. */
export function unknownCommandError(name: string, backend: string): UsageError {
  return new UsageError(`unknown command '${name}': the ${backend} backend runs ${scriptCommandNames.join(', ')}`)
}

/** An argv split at its redirection: `echo a > f` is `{ command: ['echo', 'a'], redirect: '>', file: 'f' }`. */
export interface ParsedCommand {
  command: string[]
  redirect: '' | '>' | '>>'
  file: string
}

/**
 * Splits an argv at its `>`/`>>` word and checks the command is in the language; the error says
 * what is wrong as every backend words it.
 *
 * @example
 * parseCommand(['echo', '1', '>', '/sys/module/p/parameters/n'], 'qemu').file // '/sys/module/p/parameters/n'
 */
export function parseCommand(argv: readonly string[], backend: string): ParsedCommand {
  if (argv.length === 0) throw new UsageError('empty command')
  const at = argv.findIndex((w) => w === '>' || w === '>>')
  const command = at >= 0 ? argv.slice(0, at) : [...argv]
  const file = at >= 0 ? (argv[at + 1] ?? '') : ''
  if (at >= 0 && (!file || argv.length > at + 2)) throw new UsageError(`'${argv.join(' ')}': a redirection takes exactly one file after '${argv[at]}'`)
  if (!scriptCommand(command[0] ?? '')) throw unknownCommandError(command[0] ?? '', backend)
  return { command, redirect: at >= 0 ? (argv[at] as '>' | '>>') : '', file }
}
