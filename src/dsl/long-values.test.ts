// Long values (a 1 MB parameter) are cut in messages and transcripts, with the full length; the error keeps them whole.
import path from 'node:path'
import { expect, test } from 'vitest'
import { kernel, KmodspecError } from '../index.js'
import { clip, formatValue } from './format.js'

const hello = path.resolve(import.meta.dirname, '..', '..', 'fixtures', 'hello')

test('clip and formatValue cut at 1000 characters, naming the full length', () => {
  expect(clip('x'.repeat(1000))).toBe('x'.repeat(1000))
  expect(clip('x'.repeat(1001))).toBe(`${'x'.repeat(1000)}… (1001 characters)`)
  expect(formatValue('y'.repeat(2000))).toBe(`'${'y'.repeat(1000)}'… (2000 characters)`)
})

test('a 1 MB parameter value gives a message of a few KB; the error fields keep the whole value', async () => {
  const big = 'a'.repeat(1_000_000)
  const error = await kernel({ modules: hello })
    .insmod('hello_api', { x: big })
    .expectDmesg(big)
    .then(
      () => undefined,
      (e: unknown) => e,
    )
  expect(error).toBeInstanceOf(KmodspecError)
  const e = error as KmodspecError
  expect(e.message.length).toBeLessThan(10_000)
  const shown = e.message.replace(/a{100,}/g, (run) => `<${run.length} a>`).replace(/^At: .*$/m, 'At: <spec line>')
  expect(shown).toMatchInlineSnapshot(`
    "kernel(sim).expectDmesg('<1000 a>'… (1000000 characters)) failed

    Step:      2/2  after insmod('hello_api', { x: '<1000 a>'… (1000000 characters) })
    At: <spec line>
    Expected:  these kernel log lines, in order:
               <1000 a>… (1000000 characters)
    Received:  kernel log of insmod('hello_api', { x: '<960 a>… (1067 characters)
               hello_api: loading out-of-tree module taints kernel.
               hello_api: module verification failed: signature and/or required key missing - tainting kernel
               hello_api: unknown parameter 'x' ignored
               [hello_api] Hello, World!

    Transcript
      $ insmod fixtures/hello/hello_api.ko x=<963 a>… (1000037 characters)  exit 0
        hello_api: loading out-of-tree module taints kernel.
        hello_api: module verification failed: signature and/or required key missing - tainting kernel
        hello_api: unknown parameter 'x' ignored
        [hello_api] Hello, World!"
  `)
  expect(e.expected).toContain(big)
  expect(e.transcript.find((t) => t.argv[0] === 'insmod')!.argv).toContain(`x=${big}`)
})
