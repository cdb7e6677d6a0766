import { afterAll, beforeAll, beforeEach } from 'vitest'
import { kernel, openBackend, type Backend, type KernelChain, type KernelOptions } from '../dsl/index.js'

/**
 * One backend for the tests of a file, reset to a pristine kernel before each test (nothing
 * loaded, empty log, sysroot as at start) and closed after the last. Call at the top of a
 * file or describe(); the returned function starts a chain on that kernel.
 * @example
 * const k = useKernel({ modules: 'fixtures/hello' })
 * test('loads', async () => { expect(await k().insmod('hello_api')).toHaveLoaded('hello_api') })
 */
export function useKernel(options: Omit<KernelOptions, 'backend'> & { backend?: Exclude<KernelOptions['backend'], Backend> } = {}): () => KernelChain {
  let backend: Backend | undefined
  beforeAll(async () => {
    backend = await openBackend(options)
  })
  beforeEach(async () => {
    await backend?.reset()
  })
  afterAll(async () => {
    await backend?.close()
    backend = undefined
  })
  return () => {
    if (!backend) throw new Error('useKernel(): the kernel exists only inside tests (call the returned function in test(), not at file level)')
    return kernel({ ...options, backend })
  }
}
