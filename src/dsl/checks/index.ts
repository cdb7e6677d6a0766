// Each check once, as a pure function of what the kernel showed: the chain's expect* steps
// (dsl/expect) and the vitest matchers (vitest/matchers) both call these.
export type { CheckResult } from './result.js'
export { checkDmesg, checkNoDmesg, dmesgExpected } from './dmesg.js'
export { checkError, describeError, type ErrorDetails } from './error.js'
export { checkHolders, checkLoaded, checkLoadOrder, checkNotLoaded, checkRefcount, type LoadedOptions } from './modules.js'
export { checkNotTainted, checkTainted } from './taint.js'
export { checkOutput } from './output.js'
