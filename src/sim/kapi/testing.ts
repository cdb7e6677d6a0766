// Test support: a kernel-function context on a PageMemory, and CallArgs built from plain values.
import type { CallArgs, GuestMemory } from '../cpu/types.js'
import { Printk } from '../kernel/printk.js'
import type { KapiContext } from './context.js'
import { u64 } from './guest.js'
import { KernelHeap, type HeapOptions } from './heap.js'
import { PageMemory, Scratch } from './test-memory.js'
import { listVa } from './va.js'

/** A context with fresh memory, ring buffer (clock at 4.2 s) and heap; fields can be overridden. */
export function testContext(over: Partial<Omit<KapiContext, 'memory'>> = {}, heap: HeapOptions = {}): KapiContext & { memory: PageMemory; scratch: Scratch } {
  const memory = new PageMemory()
  const printk = new Printk(4_200_000)
  return { memory, scratch: new Scratch(memory), printk, clock: printk, heap: new KernelHeap(memory, heap), notes: [], caller: () => 1000, ...over }
}

/** CallArgs for a call with these integer arguments (varargs read the same list). */
export function callWith(memory: GuestMemory, args: ReadonlyArray<bigint | number>): CallArgs {
  return {
    arg: (i) => u64(args[i] ?? 0),
    varargs: (from) => listVa(args.slice(from)),
    memory,
  }
}
