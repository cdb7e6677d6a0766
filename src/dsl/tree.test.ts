// kernel({ tree }): checked where the options are normalized; the run's backend gets it.
import { expect, test } from 'vitest'
import { createBackend } from '../backends/index.js'
import { KmodspecError } from './errors.js'
import { kernel } from './index.js'
import { normalizeOptions } from './options.js'

const refusal = (options: unknown): string => {
  try {
    normalizeOptions(options as never)
  } catch (error) {
    expect(error).toBeInstanceOf(KmodspecError)
    return (error as Error).message.split('\n')[0]!
  }
  throw new Error('not refused')
}

test("tree takes 'installed' or 'empty'", () => {
  expect(normalizeOptions({ tree: 'installed' }).tree).toBe('installed')
  expect(normalizeOptions({}).tree).toBeUndefined()
  expect(refusal({ tree: 'host' })).toContain(`tree must be 'installed' or 'empty', got "host"`)
})

test('tree with a Backend the spec created is refused: that backend already has its tree', async () => {
  const backend = await createBackend({ backend: 'sim' })
  try {
    expect(refusal({ backend, tree: 'installed' })).toContain('tree is given with a Backend you created')
  } finally {
    await backend.close()
  }
})

test("a chain with tree: 'installed' modprobes from the kernel's own tree; without it the tree is empty", async () => {
  await kernel({ tree: 'installed' })
    .modprobe('dummy')
    .expectLoaded('dummy')
    .run(['ls', '/lib/modules/6.1.0-56-amd64'])
    .expectOutput(/^modules\.dep\.bin$/m)
  await kernel({ tree: 'empty' }).modprobe('dummy').expectError('not-found')
})
