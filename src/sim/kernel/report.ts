// Pieces of the kernel's reports shared by the simulated loader and the simulated CPU's faults:
// the taint string, the CPU and hardware lines, "Modules linked in:", and the loader's own page fault.
import { bootOf } from './boot.js'
import { SimKernelFault } from './exec.js'
import { KERN_ALERT, KERN_WARNING } from './printk.js'
import type { KernelState, SimModule } from './state.js'
import { addTaint } from './taint.js'
import { loaderFacts } from '../../profile/index.js'

export const TAINT_DIE = 7
export const TAINT_WARN = 9
export const BUGFLAG_WARNING = 1
export const BUGFLAG_ONCE = 2
export const BUGFLAG_DONE = 4
export const BUGFLAG_NO_CUT_HERE = 8
/** sizeof(struct bug_entry) with relative pointers and BUGVERBOSE (x86-64). */
export const BUG_ENTRY_SIZE = 12
export const CUT_HERE = '------------[ cut here ]------------'
export const hex16 = (v: bigint) => BigInt.asUintN(64, v).toString(16).padStart(16, '0')

/** print_modules(): "Modules linked in:" with each module's taint flags. */
export function modulesLinkedIn(k: KernelState): string {
  const names = k.modules
    .filter((m) => m.state !== 'unformed')
    .map((m) => {
      const letters = ['P', 'F', '', '', '', '', '', '', '', '', 'C', '', 'O', 'E', '', 'K', 'X', 'T', 'N']
        .filter((c, bit) => c && (m.taints & (1 << bit)) !== 0)
        .join('')
      const state = m.state === 'going' ? '-' : m.state === 'coming' ? '+' : ''
      return letters || state ? `${m.name}(${letters}${state})` : m.name
    })
  return `Modules linked in: ${names.join(' ')}`
}

/** print_tainted() as 6.1 prints it in the CPU line. */
export function tainted(k: KernelState): string {
  if (!k.tainted) return 'Not tainted'
  const flags = 'PFSRMBUDAWCIOELKXTN'
  let s = 'Tainted: '
  for (let bit = 0; bit < flags.length; bit++) s += k.tainted & (1 << bit) ? flags[bit] : bit === 0 ? 'G' : ' '
  return s
}

/** The test VM's firmware line: the simulated kernel stands for the captured VM. */
export const HARDWARE = 'Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014'

/** dump_stack_print_info()'s line: the version words come from the kernel's /proc/version. */
export function cpuLine(k: KernelState, comm: string): string {
  const v = /#(\d+) .*?(Debian \S+)/.exec(bootOf(k).procVersion ?? '')
  const uid = loaderFacts(k.profile).reports612 ? 'UID: 0 ' : ''
  return `CPU: 0 ${uid}PID: 1 Comm: ${comm} ${tainted(k)} ${k.profile.release} ${v ? `#${v[1]}  ${v[2]}` : '#1'}`
}

/** The taint names 6.12's "Tainted: [O]=OOT_MODULE, ..." line gives each bit (the TAINT_* names). */
const TAINT_NAMES = [
  'PROPRIETARY_MODULE',
  'FORCED_MODULE',
  'CPU_OUT_OF_SPEC',
  'FORCED_RMMOD',
  'MACHINE_CHECK',
  'BAD_PAGE',
  'USER',
  'DIE',
  'OVERRIDDEN_ACPI_TABLE',
  'WARN',
  'CRAP',
  'FIRMWARE_WORKAROUND',
  'OOT_MODULE',
  'UNSIGNED_MODULE',
  'SOFTLOCKUP',
  'LIVEPATCH',
  'AUX',
  'RANDSTRUCT',
  'TEST',
]

/** The CPU line and, on 6.12 with a tainted kernel, the line naming each taint after it. */
export function cpuLines(k: KernelState, comm: string): string[] {
  const line = cpuLine(k, comm)
  if (!k.tainted || !loaderFacts(k.profile).reports612) return [line]
  const flags = 'PFSRMBUDAWCIOELKXTN'
  const named = TAINT_NAMES.flatMap((name, bit) => (k.tainted & (1 << bit) ? [`[${flags[bit]}]=${name}`] : []))
  return [line, `Tainted: ${named.join(', ')}`]
}

/** __die_header()'s line, e.g. "Oops: 0002 [#1] PREEMPT SMP NOPTI" (6.12: "Oops: Oops: 0002 ...", -rt: PREEMPT_RT). */
export function dieLine(k: KernelState, what: string): string {
  const facts = loaderFacts(k.profile)
  return `${facts.reports612 ? 'Oops: ' : ''}${what} [#${k.oopses}] ${facts.preemptRt ? 'PREEMPT_RT' : 'PREEMPT'} SMP NOPTI`
}

export function log(k: KernelState, level: number, lines: string[]): void {
  for (const line of lines) k.printk.log(level, line)
}

/**
 * The loader itself wrote outside the module (`where`): apply_relocate_add() through an r_offset, or
 * move_module() copying a section the layout put past the allocation. The kernel takes a page fault
 * in the insmod process. `address` is undefined when the file's numbers are too large for the
 * simulator's ELF reader to say where the write lands.
 */
export function relocationFault(k: KernelState, mod: SimModule, address: bigint | undefined, where: 'apply_relocate_add' | 'move_module'): never {
  k.oopses = (k.oopses ?? 0) + 1
  const lines = [
    `BUG: unable to handle page fault for address: ${address === undefined ? '(unknown)' : hex16(address)}`,
    '#PF: supervisor write access in kernel mode',
    '#PF: error_code(0x0002) - not-present page',
    dieLine(k, 'Oops: 0002'),
    modulesLinkedIn(k),
    '---[ end trace 0000000000000000 ]---',
  ]
  log(k, KERN_ALERT, lines)
  addTaint(k, TAINT_DIE, false)
  k.notes.push(
    `${mod.name}: ${where === 'move_module' ? "a section lies past the module's allocation" : "a relocation's r_offset leads outside the module"}${address === undefined ? ' (the simulator cannot tell where)' : ''}: the kernel does not check it and faults writing there (in ${where}); ` +
      "the report above gives the kernel's first lines only (its registers and call trace are not simulated)",
  )
  throw new SimKernelFault('oops', lines.join('\n'))
}

/**
 * __warn() for a WARN in kernel code the simulator runs in TypeScript (sim/kapi: refcount
 * saturation, a vfree of nothing): the report's first lines, then the W taint. The kernel prints the
 * caller as symbol+offset/size, which a TypeScript function has not: a note says so.
 */
export function warnInKernelCode(k: KernelState, at: { file: string; line: number; func: string }): void {
  log(k, KERN_WARNING, [
    `WARNING: CPU: 0 PID: 1 at ${at.file}:${at.line} ${at.func}`,
    modulesLinkedIn(k),
    ...cpuLines(k, 'insmod'),
    HARDWARE,
    '---[ end trace 0000000000000000 ]---',
  ])
  addTaint(k, TAINT_WARN, false)
  const note = `the WARNING from ${at.func} is the kernel's first lines only: the simulator runs ${at.func} in TypeScript, so the offset, registers and call trace of the real report are not simulated`
  if (!k.notes.includes(note)) k.notes.push(note)
}
