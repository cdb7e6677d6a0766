/**
 * `kmodspec/vitest`: typed matchers on the result of a kernel() chain, and a kernel per test.
 * Import it once (in a spec or a vitest setupFiles entry) to register the matchers.
 */
import { expect } from 'vitest'
import * as matchers from './matchers/index.js'

expect.extend(matchers)

export { matchers }
export { useKernel } from './use-kernel.js'
export type { KmodspecMatchers } from './augment.js'
