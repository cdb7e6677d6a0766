import type { ErrorKind } from '../dsl/index.js'

/** kmodspec's matchers, on the result of awaiting a kernel() chain. */
export interface KmodspecMatchers<R = unknown> {
  /** The module is loaded at the end of the run. @example expect(run).toHaveLoaded('hello_api') */
  toHaveLoaded(name: string): R
  /** The module's refcount at the end of the run. @example expect(run).toHaveRefcount('core_lkm', 1) */
  toHaveRefcount(name: string, refcount: number): R
  /** The modules that use it, any order. @example expect(run).toHaveHolders('core_lkm', ['client_lkm']) */
  toHaveHolders(name: string, holders: string[]): R
  /** Kernel log lines of the run, in order. @example expect(run).toHaveLogged('[hello_api] Hello, World!') */
  toHaveLogged(lines: string | RegExp | Array<string | RegExp>): R
  /** An action (or the one with this call text) failed with this kind. @example expect(run).toHaveFailedWith('unknown-symbol') */
  toHaveFailedWith(kind: ErrorKind, call?: string): R
  /** The kernel's taint letters include these. @example expect(run).toHaveTaint('O') */
  toHaveTaint(flags: string): R
  /** Modules inserted in this order. @example expect(run).toHaveLoadOrder(['hello_api', 'hello_feature']) */
  toHaveLoadOrder(names: string[]): R
}

declare module 'vitest' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any, @typescript-eslint/no-empty-object-type
  interface Matchers<T = any> extends KmodspecMatchers<T> {}
}
