// dsl/: the fluent chain users write specs with.
export { kernel, KernelChain, type ModuleRef } from './chain.js'
export {
  defineModule,
  isModuleModel,
  ModuleDefinitionError,
  type DefinitionProblem,
  type ModuleDefinition,
  type ModuleModel,
  type FunctionModel,
} from './define.js'
export { KmodspecError, type StepInfo } from './errors.js'
export type { KernelOptions, ModuleSource } from './options.js'
export type { ModuleParams } from './params.js'
export type { KernelRun, ActionResult } from './result.js'
export { isKernelRun } from './result.js'
export type { TranscriptEntry } from './transcript.js'
export { formatTranscript } from './transcript.js'
export type { ErrorDetails } from './expect/error.js'
export type { CheckResult } from './checks/index.js'
export type { DmesgOptions } from './expect/dmesg.js'
export type { LoadedOptions } from './expect/modules.js'
export type { ModinfoValue } from './expect/modinfo.js'
export type { LinePattern } from './expect/common.js'
export { openBackend } from './backend.js'
export type { Backend, BackendName, KernelLogRecord } from '../backends/index.js'
export type { ErrorKind, ObservedError, ProcModule } from '../observe/index.js'
