// Test support: compile C with the host gcc as kernel code (or as a native program, the judge)
// and run it on a Cpu with a few host functions bound. Used only by this folder's tests.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import { dir } from 'tmp-promise'
import { Cpu, type CallResult } from './cpu.js'
import { kernelThunk } from './host.js'
import { loadObject, type LoadedObject } from './testkit.js'
import type { KernelFunction } from './types.js'

/** The code-generation flags of an x86-64 kernel module build (Linux 6.1, Debian's config). */
export const KERNEL_CFLAGS = [
  '-O2',
  '-mcmodel=kernel',
  '-mno-sse',
  '-mno-mmx',
  '-mno-sse2',
  '-mno-3dnow',
  '-mno-avx',
  '-mno-red-zone',
  '-mgeneral-regs-only',
  '-fcf-protection=branch',
  '-mfentry',
  '-pg',
  '-mrecord-mcount',
  '-mfunction-return=thunk-extern',
  '-mindirect-branch=thunk-extern',
  '-mindirect-branch-register',
  '-fno-pic',
  '-fno-asynchronous-unwind-tables',
  '-fstack-protector-strong',
  '-fno-strict-aliasing',
  '-fno-common',
  '-Wno-attributes',
]

/**
 * Compiles C source to a relocatable object with the kernel flags (plus `extra`).
 * @example const obj = await compileKernelC('int f(int a) { return a + 1; }')
 */
export async function compileKernelC(source: string, extra: string[] = []): Promise<Uint8Array> {
  const d = await dir({ unsafeCleanup: true })
  try {
    const c = join(d.path, 't.c')
    const o = join(d.path, 't.o')
    await writeFile(c, source)
    await execa('gcc', ['-c', ...KERNEL_CFLAGS, ...extra, c, '-o', o])
    return new Uint8Array(await readFile(o))
  } finally {
    await d.cleanup()
  }
}

/**
 * Builds `source` as a host program (no red zone, so inline asm may push) and returns its stdout:
 * the judge for results whose correctness is not obvious.
 * @example const out = await runNative('#include <stdio.h>\nint main(void) { printf("%d", 1 << 3); }')
 */
export async function runNative(source: string, extra: string[] = []): Promise<string> {
  const d = await dir({ unsafeCleanup: true })
  try {
    const c = join(d.path, 'n.c')
    const exe = join(d.path, 'n')
    await writeFile(c, source)
    await execa('gcc', ['-O1', '-mno-red-zone', '-fno-strict-aliasing', ...extra, c, '-o', exe])
    return (await execa(exe, [], { stripFinalNewline: false })).stdout
  } finally {
    await d.cleanup()
  }
}

export const MODULE_BASE = 0xffffffffc0000000n
export const HOST_BASE = 0xffffffff81000000n
export const PERCPU_BASE = 0xffff888000010000n
export const DATA_BASE = 0xffff888000200000n
export const STACK_CANARY = 0x5eed5eed12345678n

/** A Cpu with a per-CPU area (canary at %gs:0x28), the kernel thunks (kernelThunk), and named host functions. */
export class Harness {
  readonly cpu = new Cpu({ gsBase: PERCPU_BASE })
  private readonly hosts = new Map<string, bigint>()
  private next = HOST_BASE
  obj: LoadedObject | undefined

  constructor() {
    this.cpu.memory.map(PERCPU_BASE, 4096, 'rw')
    this.cpu.memory.writeU64(PERCPU_BASE + 0x28n, STACK_CANARY)
    this.cpu.memory.map(DATA_BASE, 4 << 20, 'rw')
  }

  /** Binds a host function to a fresh address. */
  host(name: string, fn: KernelFunction): bigint {
    const a = this.alloc(name)
    this.cpu.defineHost(a, name, fn)
    return a
  }

  /** Defines an absolute symbol (a per-CPU offset like `current_task`, or a data address). */
  define(name: string, value: bigint): void {
    this.hosts.set(name, value)
  }

  private alloc(name: string): bigint {
    const a = this.next
    this.next += 16n
    this.hosts.set(name, a)
    return a
  }

  /** Loads an object; undefined symbols resolve to host functions or kernel thunks. */
  load(obj: Uint8Array): LoadedObject {
    this.obj = loadObject(this.cpu, obj, MODULE_BASE, (name) => {
      const h = this.hosts.get(name)
      if (h !== undefined) return h
      if (kernelThunk(name)) {
        const a = this.alloc(name)
        this.cpu.defineThunk(a, name)
        return a
      }
      return undefined
    })
    return this.obj
  }

  addr(name: string): bigint {
    const a = this.obj?.symbols.get(name)
    if (a === undefined) throw new Error(`no symbol ${name} in the loaded object`)
    return a
  }

  /** Calls a loaded function by name. */
  call(name: string, args: Array<bigint | number> = [], budget = 10_000_000): CallResult {
    return this.cpu.call(
      this.addr(name),
      args.map((a) => BigInt.asUintN(64, BigInt(a))),
      { budget },
    )
  }

  /** Calls and expects a normal return; gives the 64-bit %rax. */
  value(name: string, args: Array<bigint | number> = []): bigint {
    const r = this.call(name, args)
    if (r.kind !== 'returned') throw new Error(`${name}(${args.join(', ')}) did not return: ${describe(r)}`)
    return r.value
  }
}

/** One line about a non-returning result, for test failures. */
export function describe(r: CallResult): string {
  if (r.kind === 'returned') return `returned ${r.value}`
  const where = `rip=0x${r.rip.toString(16)}`
  if (r.kind === 'fault' || r.kind === 'stack-overflow') return `${r.kind} ${r.fault.access} 0x${r.fault.address.toString(16)} (${r.fault.reason}) ${where}`
  if (r.kind === 'trap') return `trap ${r.trap} ${r.detail ?? ''} ${where}`
  if (r.kind === 'stopped') return `stopped ${r.reason} ${where}`
  if (r.kind === 'host-error') return `host-error ${String(r.error)} ${where}`
  return `${r.kind} ${where}`
}
