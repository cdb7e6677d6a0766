import type { ErrorDetails, ErrorKind, LinePattern, LoadedOptions } from '../dsl/index.js'

/**
 * kmodspec's matchers, on the result of awaiting a kernel() chain. Each is the chain's expectation
 * of the same name with `expect` turned into `toHave` (expectDmesg -> toHaveDmesg), checked by the
 * same function on the run's end state; `.not` negates any of them.
 */
export interface KmodspecMatchers<R = unknown> {
  /** expectDmesg on the whole run: these kernel log lines, in order. @example expect(run).toHaveDmesg('[hello_api] Hello, World!') */
  toHaveDmesg(lines: LinePattern | LinePattern[], options?: { exact?: boolean }): R
  /** expectError: some action failed with this kind (and details). @example expect(run).toHaveError('in-use', { by: ['client_lkm'] }) */
  toHaveError(kind: ErrorKind, details?: ErrorDetails): R
  /** expectLoaded at the end of the run (`.not`: expectNotLoaded). @example expect(run).toHaveLoaded('hello_api', { refcount: 1 }) */
  toHaveLoaded(name: string, options?: LoadedOptions): R
  /** expectRefcount at the end of the run. @example expect(run).toHaveRefcount('core_lkm', 1) */
  toHaveRefcount(name: string, refcount: number): R
  /** expectHolders at the end of the run, any order. @example expect(run).toHaveHolders('core_lkm', ['client_lkm']) */
  toHaveHolders(name: string, holders: string[]): R
  /** expectLoadOrder: modules inserted in this order. @example expect(run).toHaveLoadOrder(['hello_api', 'hello_feature']) */
  toHaveLoadOrder(names: string[]): R
  /** expectTainted: the kernel's taint includes these letters (none: any taint; `.not.toHaveTainted()`: expectNotTainted). @example expect(run).toHaveTainted('O') */
  toHaveTainted(flags?: string): R
  /** expectOutput on the whole run: some action printed this text (or matched the RegExp). @example expect(run).toHaveOutput(/in use by/) */
  toHaveOutput(pattern: string | RegExp): R
  /** @deprecated use toHaveDmesg (same check); this name goes in the next version. */
  toHaveLogged(lines: LinePattern | LinePattern[]): R
  /** @deprecated use toHaveError; this name (with an optional action call to look at) goes in the next version. */
  toHaveFailedWith(kind: ErrorKind, call?: string): R
  /** @deprecated use toHaveTainted (same check); this name goes in the next version. */
  toHaveTaint(flags: string): R
}

declare module 'vitest' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any, @typescript-eslint/no-empty-object-type
  interface Matchers<T = any> extends KmodspecMatchers<T> {}
}
