// The simulated x86-64 CPU: memory, decoder, interpreter, host functions, relocations.
export * from './types.js'
export { SparseMemory, PAGE_SIZE, toBig, split } from './memory.js'
export { decode, Insn, Op, Kind } from './decode.js'
export { Cpu, type CallResult, type CallOptions, type CpuOptions, type PortIo, type Registers, type StopState, type TrapKind } from './cpu.js'
export { HostStop, guestVaList, kernelThunk, sysvArgs, type HostEntry } from './host.js'
export { applyRelocateAdd, bufferTarget, type Rela, type RelocTarget, type RelocMessage, type RelocateInput, type RelocateResult } from './relocate.js'
export { PERCPU_OFFSETS, setupPerCpu, type PerCpuOptions } from './percpu.js'
