// The CPU's call API on kernel-built C: host functions (varargs, a C va_list, calls back into the
// guest), per-CPU data through %gs, and every way a call can end other than returning.
import { beforeAll, describe, expect, test } from 'vitest'
import { Cpu } from './cpu.js'
import { guestVaList } from './host.js'
import { setupPerCpu } from './percpu.js'
import { GuestFault } from './types.js'
import { HOST_BASE, Harness, PERCPU_BASE, STACK_CANARY, compileKernelC, describe as say } from './testcc.js'

const SOURCE = String.raw`
typedef unsigned long u64;
typedef __builtin_va_list va_list;
#define NI __attribute__((noinline))
extern int _printk(const char *fmt, ...);
extern int vprintk(const char *fmt, va_list args);
extern long call_back(long (*fn)(long), long arg);
extern long bad_pointer(const char *p);
extern long host_bug(void);

int hello_init(void) { _printk("\0016hello: %d %s\n", 42, "world"); return 0; }
int many(void) { return _printk("%d %ld %s %llx %d %d %d %d %d\n", 1, -2L, "str", 0xffffffffffULL, 5, 6, 7, 8, 9); }
int my_printk(const char *fmt, ...) { va_list ap; __builtin_va_start(ap, fmt); int r = vprintk(fmt, ap); __builtin_va_end(ap); return r; }
int use_my_printk(void) { return my_printk("%d %d %d %d %d %d %d %d\n", 1, 2, 3, 4, 5, 6, 7, -8); }
NI long sum(int n, ...) { va_list ap; long s = 0; __builtin_va_start(ap, n); while (n--) s += __builtin_va_arg(ap, long); __builtin_va_end(ap); return s; }
long call_sum(void) { return sum(9, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L); }
long eight(long a, long b, long c, long d, long e, long f, long g, long h) { return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h; }
long twice(long x) { return 2 * x; }
NI long nested(long x) { long keep = x * 3; long r = call_back(twice, x); return r + keep; }
long pass_bad_pointer(void) { return bad_pointer((const char *)16); }
long call_host_bug(void) { return host_bug(); }

NI int read_null(int *p) { return p[2]; }
NI int level2(int *p) { return read_null(p) + 1; }
NI int level1(int *p) { return level2(p) * 2; }
void write_ro(void) { *(volatile char *)"constant" = 1; }
static char data_fn[16];
void exec_data(void) { ((void (*)(void))data_fn)(); }
void spin(void) { for (;;) asm volatile(""); }
NI long deep(long n) { volatile char buf[200]; buf[0] = n; return n ? deep(n - 1) + buf[0] : 0; }
int warn_then(int x) { asm volatile("ud2"); return x + 1; }
int trap_int3(void) { asm volatile("int3"); return 7; }
NI int divide(int a, int b) { return a / b; }
NI int smash(int i) { volatile char buf[16]; for (int k = 0; k <= i; k++) buf[k] = 0x41; return buf[0]; }
u64 read_current(void) { u64 t; asm("movq %%gs:current_task, %0" : "=r"(t)); return t; }
u64 gs_canary(void) { u64 t; asm("movq %%gs:0x28, %0" : "=r"(t)); return t; }
struct pair { u64 a, b; } __attribute__((aligned(16)));
u64 cx16(struct pair *p, u64 ea, u64 eb, u64 na, u64 nb) {
  unsigned char ok;
  asm volatile("lock cmpxchg16b %1\n\tsetz %0" : "=q"(ok), "+m"(*p), "+a"(ea), "+d"(eb) : "b"(na), "c"(nb) : "memory");
  return ok ? 1 : (ea ^ eb) << 1;
}
extern void __SCT__might_resched(void);
u64 percpu_vars(void) {
  u64 off; unsigned int cpu, pc;
  asm("movq %%gs:this_cpu_off, %0" : "=r"(off));
  asm("movl %%gs:cpu_number, %0" : "=r"(cpu));
  asm("incl %%gs:__preempt_count\n\tmovl %%gs:__preempt_count, %0\n\tdecl %%gs:__preempt_count" : "=r"(pc));
  __SCT__might_resched();
  return (off - 0xffff888000010000UL) ^ ((u64)cpu << 32) ^ pc;
}
`

const TASK = 0xffff888012345678n
const printed: Array<{ fmt: string; args: bigint[] }> = []
const vprinted: bigint[][] = []
let h: Harness

beforeAll(async () => {
  h = new Harness()
  const m = h.cpu.memory
  h.host('_printk', (c) => {
    const ap = c.varargs(1)
    const fmt = m.readCString(c.arg(0))
    printed.push({ fmt, args: [...Array((fmt.match(/%/g) ?? []).length)].map(() => ap.next()) })
    return fmt.length
  })
  h.host('vprintk', (c) => {
    const ap = guestVaList(m, c.arg(1))
    vprinted.push([...Array(8)].map(() => BigInt.asIntN(32, ap.next())))
    vprinted.push([BigInt(m.readU32(c.arg(1)))]) // gp_offset after the reads: va_arg advanced it
    return 8
  })
  h.host('call_back', (c) => {
    const r = h.cpu.call(c.arg(0), [c.arg(1)])
    if (r.kind !== 'returned') throw new Error(say(r))
    return r.value + 1n
  })
  h.host('bad_pointer', (c) => m.readCString(c.arg(0)).length)
  h.host('host_bug', () => {
    throw new TypeError('kapi bug')
  })
  for (const [sym, off] of setupPerCpu(h.cpu, { base: PERCPU_BASE, current: TASK, canary: STACK_CANARY })) h.define(sym, off)
  h.load(await compileKernelC(SOURCE))
})

describe('host functions', () => {
  test('a hello-world init: one host call with its arguments, %rax back to the caller', () => {
    printed.length = 0
    const r = h.call('hello_init')
    expect(r).toEqual({ kind: 'returned', value: 0n, instructions: expect.any(Number) })
    expect(printed).toHaveLength(1)
    expect(printed[0]!.fmt).toBe('\x016hello: %d %s\n')
    expect(printed[0]!.args[0]).toBe(42n)
    expect(h.cpu.memory.readCString(printed[0]!.args[1]!)).toBe('world')
    expect(r.kind === 'returned' && r.instructions).toBeLessThan(40)
    // Deterministic: the same call costs the same instructions.
    expect(h.call('hello_init')).toEqual(r)
  })

  test('varargs beyond the six argument registers come from the stack', () => {
    printed.length = 0
    expect(h.value('many')).toBe(BigInt('%d %ld %s %llx %d %d %d %d %d\n'.length))
    const { args } = printed[0]!
    expect(h.cpu.memory.readCString(args[2]!)).toBe('str')
    expect(args.filter((_, i) => i !== 2)).toEqual([1n, 0xfffffffffffffffen, 0xffffffffffn, 5n, 6n, 7n, 8n, 9n])
  })

  test('a C va_list handed to the host (vprintk) reads register and overflow arguments', () => {
    vprinted.length = 0
    expect(h.value('use_my_printk')).toBe(8n)
    expect(vprinted[0]).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, -8n])
    expect(vprinted[1]).toEqual([48n])
  })

  test('guest varargs (va_arg in the module) and calls with stack arguments', () => {
    expect(h.value('call_sum')).toBe(45n)
    expect(h.value('eight', [1, 2, 3, 4, 5, 6, 7, 8])).toBe(204n)
  })

  test('a host function calls back into the guest; callee-saved registers survive', () => {
    expect(h.value('nested', [7])).toBe(14n + 1n + 21n)
  })

  test('a bad pointer read by a host function faults at the host function', () => {
    const r = h.call('pass_bad_pointer')
    expect(r.kind).toBe('fault')
    if (r.kind !== 'fault') return
    expect(r.fault).toEqual({ address: 16n, access: 'read', reason: 'not-present' })
    expect(r.rip >= HOST_BASE && r.rip < HOST_BASE + 0x1000n).toBe(true)
  })

  test('an exception in a host function is reported, not thrown', () => {
    const r = h.call('call_host_bug')
    expect(r.kind).toBe('host-error')
    expect(r.kind === 'host-error' && String(r.error)).toBe('TypeError: kapi bug')
  })
})

describe('wide atomics', () => {
  test('lock cmpxchg16b swaps on a match and loads the old value otherwise', () => {
    const m = h.cpu.memory
    const P = 0xffff888000200100n
    m.writeU64(P, 0x1111n)
    m.writeU64(P + 8n, 0x2222n)
    expect(h.value('cx16', [P, 0x1111n, 0x2222n, 0xaaaan, 0xbbbbn])).toBe(1n)
    expect([m.readU64(P), m.readU64(P + 8n)]).toEqual([0xaaaan, 0xbbbbn])
    expect(h.value('cx16', [P, 0x1111n, 0x2222n, 0n, 0n])).toBe((0xaaaan ^ 0xbbbbn) << 1n)
    expect([m.readU64(P), m.readU64(P + 8n)]).toEqual([0xaaaan, 0xbbbbn])
  })
})

describe('per-CPU data through %gs', () => {
  test('current_task and the stack canary at %gs:0x28', () => {
    expect(h.value('read_current')).toBe(TASK)
    expect(h.value('gs_canary')).toBe(STACK_CANARY)
  })

  test('this_cpu_off, cpu_number, __preempt_count; the might_resched static call returns', () => {
    expect(h.value('percpu_vars')).toBe(0x80000001n)
  })
})

describe('calls that do not return', () => {
  test('a NULL dereference: fault info, rip in the function, backtrace of return addresses', () => {
    const r = h.call('level1', [0])
    if (r.kind !== 'fault') throw new Error(say(r))
    expect(r.fault).toEqual({ address: 8n, access: 'read', reason: 'not-present' })
    const fn = h.addr('read_null')
    expect(r.rip > fn && r.rip < fn + 0x20n).toBe(true)
    expect(r.regs.rdi).toBe(0n)
    expect(r.regs.rip).toBe(r.rip)
    expect(r.callees.slice(0, 3)).toEqual([h.addr('read_null'), h.addr('level2'), h.addr('level1')])
    expect(r.backtrace[0]! > h.addr('level2') && r.backtrace[0]! < h.addr('level1')).toBe(true)
    expect(r.backtrace[1]! > h.addr('level1')).toBe(true)
    expect(r.backtrace).toHaveLength(2)
  })

  test('a write to .rodata and a jump into .bss fault with their reasons', () => {
    const w = h.call('write_ro')
    expect(w.kind === 'fault' && w.fault.access + ' ' + w.fault.reason).toBe('write protection')
    const x = h.call('exec_data')
    expect(x.kind === 'fault' && x.fault.access + ' ' + x.fault.reason).toBe('exec protection')
    expect(x.kind === 'fault' && x.fault.address).toBe(x.kind === 'fault' ? x.rip : 0n)
  })

  test('an endless loop uses up its budget exactly, the same way every time', () => {
    const a = h.call('spin', [], 1000)
    const b = h.call('spin', [], 1000)
    expect(a.kind).toBe('budget')
    expect(a.kind === 'budget' && a.instructions).toBe(1000)
    expect(b).toEqual(a)
  })

  test('deep recursion hits the stack guard page', () => {
    const r = h.call('deep', [100_000])
    if (r.kind !== 'stack-overflow') throw new Error(say(r))
    expect(r.fault.access).toBe('write')
    expect(r.fault.address < h.cpu.stackBase && r.fault.address >= h.cpu.stackBase - 4096n).toBe(true)
    // the innermost 32 frames (of ~70: deeper than the shadow stack starts) all return into deep() itself
    expect(r.backtrace).toHaveLength(32)
    expect(new Set(r.backtrace).size).toBe(1)
    expect(r.backtrace[0]! > h.addr('deep')).toBe(true)
    expect(h.value('deep', [10])).toBe(55n) // the CPU is usable afterwards
  })

  test('ud2 traps with its address; a WARN-style handler continues after it', () => {
    const r = h.call('warn_then', [5])
    if (r.kind !== 'trap') throw new Error(say(r))
    expect(r.trap).toBe('ud2')
    expect([...h.cpu.memory.read(r.rip, 2)]).toEqual([0x0f, 0x0b])
    const seen: bigint[] = []
    const c = h.cpu.call(h.addr('warn_then'), [5n], { onTrap: (t, rip) => (seen.push(rip), t === 'ud2') })
    expect(c.kind === 'returned' && c.value).toBe(6n)
    expect(seen).toEqual([r.rip])
  })

  test('int3, divide error and the stack protector', () => {
    expect(h.call('trap_int3').kind === 'trap' && (h.call('trap_int3') as { trap: string }).trap).toBe('int3')
    const z = h.call('divide', [1, 0])
    expect(z.kind === 'trap' && z.trap).toBe('divide-error')
    const o = h.call('divide', [-0x80000000, -1])
    expect(o.kind === 'trap' && o.trap).toBe('divide-error')
    expect(h.value('divide', [-7, 2])).toBe(BigInt.asUintN(64, -3n) & 0xffffffffn)
    const s = h.call('smash', [40])
    if (s.kind !== 'stopped') throw new Error(say(s))
    expect(s.reason).toBe('stack-protector')
    const caller = (s.detail as { caller: bigint }).caller
    expect(caller > h.addr('smash') && caller < h.addr('smash') + 0x80n).toBe(true)
    expect(s.backtrace[0]).toBe(caller)
    expect(h.value('smash', [3])).toBe(0x41n)
  })
})

describe('raw machine code', () => {
  const CODE = 0xffffffffa0000000n
  const cpu = new Cpu()
  cpu.memory.map(CODE, 4096, 'rwx')
  const run = (bytes: number[]) => {
    cpu.memory.write(CODE, new Uint8Array(bytes))
    return cpu.call(CODE)
  }

  test('code rewritten after it ran is decoded again', () => {
    expect(run([0xb8, 1, 0, 0, 0, 0xc3])).toMatchObject({ kind: 'returned', value: 1n })
    expect(run([0xb8, 2, 0, 0, 0, 0xc3])).toMatchObject({ kind: 'returned', value: 2n })
  })

  test('a page unmapped or made non-executable after it ran is not executed from the decode cache', () => {
    const c = new Cpu()
    c.memory.map(CODE, 4096, 'rwx')
    c.memory.write(CODE, new Uint8Array([0xb8, 3, 0, 0, 0, 0xc3]))
    expect(c.call(CODE)).toMatchObject({ kind: 'returned', value: 3n })
    c.memory.protect(CODE, 4096, 'rw')
    expect(c.call(CODE)).toMatchObject({ kind: 'fault', fault: { address: CODE, access: 'exec', reason: 'protection' } })
    c.memory.protect(CODE, 4096, 'rx')
    expect(c.call(CODE)).toMatchObject({ kind: 'returned', value: 3n })
    c.memory.unmap(CODE, 4096)
    expect(c.call(CODE)).toMatchObject({ kind: 'fault', fault: { address: CODE, access: 'exec', reason: 'not-present' } })
  })

  test('undecodable bytes are an invalid-opcode trap; vector and privileged code is named, not run', () => {
    expect(run([0x0f, 0x04])).toMatchObject({ kind: 'trap', trap: 'invalid-opcode' })
    expect(run([0x0f, 0x28, 0xc1, 0xc3])).toMatchObject({ kind: 'trap', trap: 'unsupported', detail: expect.stringMatching(/vector/) })
    expect(run([0x0f, 0x32, 0xc3])).toMatchObject({ kind: 'trap', trap: 'unsupported', detail: expect.stringMatching(/privileged/) })
    expect(run([0xf4])).toMatchObject({ kind: 'trap', trap: 'hlt' })
  })

  test('an instruction that runs off the end of the mapping faults on fetch', () => {
    cpu.memory.write(CODE + 4094n, new Uint8Array([0x48, 0xb8]))
    const r = cpu.call(CODE + 4094n)
    expect(r.kind === 'fault' && r.fault).toEqual({ address: CODE + 4096n, access: 'exec', reason: 'not-present' })
  })

  test('a GuestFault is a real Error with the fault info', () => {
    const e = new GuestFault({ address: 8n, access: 'read', reason: 'not-present' })
    expect(e.message).toBe('guest read fault at 0x8 (not-present)')
  })
})

describe('deterministic machine state', () => {
  const CODE = 0xffffffffa0000000n
  const fresh = (bytes: number[]) => {
    const cpu = new Cpu()
    cpu.memory.map(CODE, 4096, 'rwx')
    cpu.memory.write(CODE, new Uint8Array(bytes))
    return cpu
  }

  test('rdtsc counts instructions; cpuid answers a fixed GenuineIntel', () => {
    // rdtsc; shl $32,%rdx; or %rdx,%rax; ret
    const a = fresh([0x0f, 0x31, 0x48, 0xc1, 0xe2, 0x20, 0x48, 0x09, 0xd0, 0xc3])
    const b = fresh([0x0f, 0x31, 0x48, 0xc1, 0xe2, 0x20, 0x48, 0x09, 0xd0, 0xc3])
    expect(a.call(CODE)).toEqual(b.call(CODE))
    // xor %eax,%eax; cpuid; mov %ebx,%eax; ret
    expect(fresh([0x31, 0xc0, 0x0f, 0xa2, 0x89, 0xd8, 0xc3]).call(CODE)).toMatchObject({ value: 0x756e6547n }) // "Genu"
  })

  test('enter/leave build and drop a frame', () => {
    // enter $16,$0; mov %rsp,%rax; sub %rbp,%rax; leave; ret  => -16
    expect(fresh([0xc8, 0x10, 0x00, 0x00, 0x48, 0x89, 0xe0, 0x48, 0x29, 0xe8, 0xc9, 0xc3]).call(CODE)).toMatchObject({ value: BigInt.asUintN(64, -16n) })
  })

  test('a rep stosb cut by the budget stops at the instruction with %rcx counting down', () => {
    // mov $0x100000,%ecx; lea -0x100(%rsp),%rdi (inside the stack); rep stosb; ret
    const cpu = fresh([0xb9, 0x00, 0x01, 0x00, 0x00, 0x48, 0x8d, 0xbc, 0x24, 0x00, 0xff, 0xff, 0xff, 0xf3, 0xaa, 0xc3])
    const r = cpu.call(CODE, [], { budget: 100 })
    if (r.kind !== 'budget') throw new Error(r.kind)
    expect(r.rip).toBe(CODE + 13n)
    expect(r.regs.rcx).toBe(0x100n - 98n)
    expect(r.instructions).toBe(100)
    expect(cpu.call(CODE, [], { budget: 1000 })).toMatchObject({ kind: 'returned' })
  })
})

describe('port I/O', () => {
  const CODE = 0xffffffffa0000000n
  // mov $0x3f8,%dx; mov $0x41,%al; out %al,(%dx); in $0x71,%al; ret
  const code = [0x66, 0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee, 0xe4, 0x71, 0xc3]
  test('in/out reach the I/O handler; without one they stop as unsupported', () => {
    const writes: number[][] = []
    const cpu = new Cpu({ io: { in: (port, size) => (port === 0x71 && size === 1 ? 0x5a : 0xff), out: (port, size, v) => void writes.push([port, size, v]) } })
    cpu.memory.map(CODE, 4096, 'rwx')
    cpu.memory.write(CODE, new Uint8Array(code))
    expect(cpu.call(CODE)).toMatchObject({ kind: 'returned', value: 0x5an })
    expect(writes).toEqual([[0x3f8, 1, 0x41]])
    const bare = new Cpu()
    bare.memory.map(CODE, 4096, 'rwx')
    bare.memory.write(CODE, new Uint8Array(code))
    expect(bare.call(CODE)).toMatchObject({ kind: 'trap', trap: 'unsupported', detail: expect.stringMatching(/out port 0x3f8/) })
  })
})

describe('division fast path', () => {
  const CODE = 0xffffffffa0000000n
  const cpu = new Cpu()
  cpu.memory.map(CODE, 4096, 'rwx')
  // mov %rdi,%rax; xor %edx,%edx; div %rsi; ret (the quotient); at +16 the same, then mov %rdx,%rax (the remainder)
  cpu.memory.write(CODE, new Uint8Array([0x48, 0x89, 0xf8, 0x31, 0xd2, 0x48, 0xf7, 0xf6, 0xc3]))
  cpu.memory.write(CODE + 16n, new Uint8Array([0x48, 0x89, 0xf8, 0x31, 0xd2, 0x48, 0xf7, 0xf6, 0x48, 0x89, 0xd0, 0xc3]))
  test('64-bit unsigned quotients and remainders near the limits of a double', () => {
    const cases: Array<[bigint, bigint]> = [
      [(1n << 52n) - 1n, 3n],
      [(1n << 52n) - 1n, (1n << 26n) + 1n],
      [(1n << 52n) - 2n, (1n << 52n) - 1n],
      [4503599627370495n, 4503599627370494n],
      [(1n << 53n) + 1n, 7n],
      [(1n << 64n) - 1n, 10n],
      [123456789n, 1n],
      [0n, 5n],
      [(1n << 51n) + 12345n, 1000003n],
    ]
    for (const [n, v] of cases) {
      expect(cpu.call(CODE, [n, v]), `${n} / ${v}`).toMatchObject({ value: n / v })
      expect(cpu.call(CODE + 16n, [n, v]), `${n} % ${v}`).toMatchObject({ value: n % v })
    }
  })
})
