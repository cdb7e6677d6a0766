// What the kernel prints when a module's own code goes wrong on the simulated CPU: the oops of a
// bad access, BUG() and WARN() from the module's __bug_table, a stack overflow, a CPU stuck in a
// loop. The first lines follow 6.1's arch/x86/mm/fault.c, lib/bug.c, kernel/panic.c and
// arch/x86/kernel/dumpstack.c as the captured VM prints them; registers and the call trace are the
// simulated CPU's own, and a note says so.
import type { CallResult, StopState } from '../cpu/index.js'
import { KernelBug } from '../kapi/index.js'
import { readUint } from '../kapi/guest.js'
import { SimKernelFault } from './exec.js'
import {
  BUG_ENTRY_SIZE,
  BUGFLAG_DONE,
  BUGFLAG_NO_CUT_HERE,
  BUGFLAG_ONCE,
  BUGFLAG_WARNING,
  cpuLines,
  CUT_HERE,
  dieLine,
  HARDWARE,
  hex16,
  log,
  modulesLinkedIn,
  TAINT_DIE,
  TAINT_WARN,
} from './report.js'
import { INSTRUCTION_BUDGET, type Machine } from './machine.js'
import { KERN_ALERT, KERN_CRIT, KERN_EMERG, KERN_WARNING } from './printk.js'
import type { KernelState, SimModule } from './state.js'
import { addTaint } from './taint.js'

/** The module's BUG()/WARN() site at `addr`, from its relocated __bug_table. */
function bugAt(
  m: Machine,
  table: { addr: bigint; count: number } | undefined,
  addr: bigint,
): { file: string; line: number; flags: number; at: bigint } | undefined {
  if (!table) return undefined
  for (let i = 0; i < table.count; i++) {
    const e = table.addr + BigInt(i * BUG_ENTRY_SIZE)
    const disp = BigInt.asIntN(32, readUint(m.memory, e, 4))
    if (e + disp !== addr) continue
    const fileDisp = BigInt.asIntN(32, readUint(m.memory, e + 4n, 4))
    const file = m.memory.readCString(e + 4n + fileDisp, 256)
    return { file, line: Number(readUint(m.memory, e + 8n, 2)), flags: Number(readUint(m.memory, e + 10n, 2)), at: e }
  }
  return undefined
}

function symbol(m: Machine, addr: bigint): string {
  const s = m.symbolAt(addr)
  if (!s) return `0x${hex16(addr)}`
  return `${s.name}+0x${s.offset.toString(16)}/0x${s.size?.toString(16) ?? '?'}${s.module ? ` [${s.module}]` : ''}`
}

/** show_regs() and the call trace, in the order the kernel prints them after the CPU line. */
function regsAndTrace(m: Machine, st: StopState): string[] {
  const r = st.regs
  return [
    `RIP: 0010:${symbol(m, st.rip)}`,
    `RSP: 0018:${hex16(r.rsp)} EFLAGS: ${r.eflags.toString(16).padStart(8, '0')}`,
    `RAX: ${hex16(r.rax)} RBX: ${hex16(r.rbx)} RCX: ${hex16(r.rcx)}`,
    `RDX: ${hex16(r.rdx)} RSI: ${hex16(r.rsi)} RDI: ${hex16(r.rdi)}`,
    `RBP: ${hex16(r.rbp)} R08: ${hex16(r.r8)} R09: ${hex16(r.r9)}`,
    `R10: ${hex16(r.r10)} R11: ${hex16(r.r11)} R12: ${hex16(r.r12)}`,
    `R13: ${hex16(r.r13)} R14: ${hex16(r.r14)} R15: ${hex16(r.r15)}`,
    'Call Trace:',
    ' <TASK>',
    ...st.backtrace.map((a) => ` ${symbol(m, a)}`),
    ' </TASK>',
  ]
}

function noteReport(k: KernelState, mod: SimModule): void {
  const text = `${mod.name}: the kernel's report above comes from the simulated CPU: its first lines are the kernel's, but PID, registers and call trace are the simulator's own, not the VM's`
  if (!k.notes.includes(text)) k.notes.push(text)
}

/** die(): the oops line, the CPU state, and the end of the trace; the task is killed. */
function die(k: KernelState, m: Machine, mod: SimModule, head: string[], what: string, st: StopState, comm: string, extra: string[] = []): never {
  k.oopses = (k.oopses ?? 0) + 1
  const lines = [
    ...head,
    dieLine(k, what),
    ...cpuLines(k, comm),
    HARDWARE,
    ...regsAndTrace(m, st),
    modulesLinkedIn(k),
    ...extra,
    '---[ end trace 0000000000000000 ]---',
  ]
  log(k, KERN_ALERT, lines)
  addTaint(k, TAINT_DIE, false)
  noteReport(k, mod)
  throw new SimKernelFault('oops', lines.join('\n'))
}

/**
 * Runs one of the module's functions (init, exit) on the CPU and returns %eax as the C int it is;
 * a fault, BUG, runaway loop or stack overflow is logged as the kernel logs it and thrown as a
 * SimKernelFault, which stops the command the way the VM's kernel stops the process.
 */
export function runModuleFunction(k: KernelState, m: Machine, mod: SimModule, fn: bigint, comm: string): number {
  const bugs = mod.code?.bugTable
  const onTrap = (trap: string, rip: bigint): boolean => {
    if (trap !== 'ud2') return false
    const bug = bugAt(m, bugs, rip)
    if (!bug || !(bug.flags & BUGFLAG_WARNING)) return false
    if (bug.flags & BUGFLAG_ONCE) {
      if (bug.flags & BUGFLAG_DONE) return true
      m.memory.write(bug.at + 10n, new Uint8Array([(bug.flags | BUGFLAG_DONE) & 0xff, (bug.flags | BUGFLAG_DONE) >> 8]))
    }
    const lines = [
      ...(bug.flags & BUGFLAG_NO_CUT_HERE ? [] : [CUT_HERE]),
      `WARNING: CPU: 0 PID: 1 at ${bug.file}:${bug.line} ${symbol(m, rip)}`,
      modulesLinkedIn(k),
      ...cpuLines(k, comm),
      HARDWARE,
      ...regsAndTrace(m, { ...m.cpu.state(), rip }),
      '---[ end trace 0000000000000000 ]---',
    ]
    log(k, KERN_WARNING, lines)
    addTaint(k, bug.flags >> 8 || TAINT_WARN, false)
    noteReport(k, mod)
    return true
  }
  const r: CallResult = m.run(fn, [], onTrap)
  switch (r.kind) {
    case 'returned':
      return Number(BigInt.asIntN(32, r.value))
    case 'fault': {
      const { address, access, reason } = r.fault
      const code = (reason === 'protection' ? 1 : 0) | (access === 'write' ? 2 : 0) | (access === 'exec' ? 16 : 0)
      const head = [
        address < 4096n
          ? `BUG: kernel NULL pointer dereference, address: ${hex16(address)}`
          : `BUG: unable to handle page fault for address: ${hex16(address)}`,
        `#PF: supervisor ${access === 'exec' ? 'instruction fetch' : access} access in kernel mode`,
        `#PF: error_code(0x${code.toString(16).padStart(4, '0')}) - ${reason === 'protection' ? 'permissions violation' : 'not-present page'}`,
        ...(address < 0x800000000000n ? ['PGD 0 P4D 0 '] : []),
      ]
      const freed = m.api.context.heap.wasFreed(address)
      if (freed)
        k.notes.push(
          `${mod.name}: ${hex16(address)} was freed before this access; the real kernel's slab usually keeps freed memory mapped, so on the VM this use after free may read stale data instead of oopsing`,
        )
      return die(k, m, mod, head, `Oops: ${code.toString(16).padStart(4, '0')}`, r, comm, [`CR2: ${hex16(address)}`])
    }
    case 'stack-overflow': {
      const base = 0xffffc900005a0000n
      return die(
        k,
        m,
        mod,
        [`BUG: TASK stack guard page was hit at ${hex16(r.fault.address)} (stack is ${hex16(base)}..${hex16(base + 0x3fffn)})`],
        'stack guard page: 0000',
        r,
        comm,
      )
    }
    case 'budget': {
      const lines = [`watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [${comm}:1]`, modulesLinkedIn(k), ...cpuLines(k, comm), HARDWARE, ...regsAndTrace(m, r)]
      log(k, KERN_EMERG, lines)
      k.notes.push(
        `${mod.name}: its code ran ${INSTRUCTION_BUDGET.toLocaleString('en')} instructions without returning (a call of a kernel function counting as a few hundred): taken as a CPU stuck in the module, which the real kernel's watchdog reports after about 20 s (a module that legitimately runs longer needs the VM)`,
      )
      throw new SimKernelFault('hang', lines.join('\n'))
    }
    case 'trap': {
      if (r.trap === 'unsupported') {
        k.notes.push(
          `${mod.name}: the simulator cannot execute ${r.detail ?? 'an instruction'} at ${symbol(m, r.rip)}: the function was stopped there and taken as returning 0`,
        )
        return 0
      }
      if (r.trap === 'ud2') {
        const bug = bugAt(m, bugs, r.rip)
        if (bug) log(k, KERN_CRIT, [`kernel BUG at ${bug.file}:${bug.line}!`])
        return die(k, m, mod, [], 'invalid opcode: 0000', r, comm)
      }
      if (r.trap === 'divide-error') return die(k, m, mod, [], 'divide error: 0000', r, comm)
      if (r.trap === 'int3') return die(k, m, mod, [], 'int3: 0000', r, comm)
      return die(k, m, mod, [], 'invalid opcode: 0000', r, comm)
    }
    case 'host-error': {
      const e = r.error
      if (e instanceof KernelBug) {
        if (e.kind === 'hang') {
          log(k, KERN_EMERG, [e.line])
          k.notes.push(`${mod.name}: ${e.detail}`)
          throw new SimKernelFault('hang', e.line)
        }
        if (e.kind === 'panic' || e.line.startsWith('Kernel panic')) {
          log(k, KERN_EMERG, [e.line])
          throw new SimKernelFault('panic', e.line)
        }
        if (e.kind === 'warning') {
          // Already reported through the warn hook; the function goes on as the kernel's does.
          return 0
        }
        return die(k, m, mod, [e.line], 'invalid opcode: 0000', r, comm)
      }
      throw e
    }
    case 'stopped':
      log(k, KERN_EMERG, [String(r.reason)])
      throw new SimKernelFault('oops', String(r.reason))
    case 'cpu-error':
      // A fault of the simulator, not of the module: it must not abort the run, and it is never the kernel's word.
      k.notes.push(
        `${mod.name}: the simulator failed while executing ${symbol(m, r.rip)} (${r.error instanceof Error ? r.error.message : String(r.error)}): the function was stopped there and taken as returning 0; this is a kmodspec bug, please report it`,
      )
      return 0
    default:
      return r satisfies never
  }
}
