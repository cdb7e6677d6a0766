// Thousands of corrupted modules through every tool: no exception, no hang, no broken machine.
// `npm run fuzz -- --cases N` runs the same cases at length; a failure prints its seed and case number.
import { expect, test } from 'vitest'
import { loadEmbeddedProfile } from '../../profile/index.js'
import { tools } from '../tools/index.js'
import { fixtureBases } from './bases.js'
import { caseRandom, mutate } from './mutate.js'
import { describeFailure, runFuzzCase, type FuzzFailure } from './run.js'

const SEED = 20261126
const CASES = Number(process.env.KMODSPEC_FUZZ_CASES ?? 2500)

test(`${CASES} corrupted modules (seed ${SEED}): 0 exceptions, 0 hangs, 0 crashes`, async () => {
  const profile = await loadEmbeddedProfile()
  const bases = fixtureBases('fixtures', profile)
  expect(bases.length).toBeGreaterThan(10)
  const failures: FuzzFailure[] = []
  for (let i = 0; i < CASES; i++) failures.push(...runFuzzCase(profile, bases, SEED, i).failures)
  expect(failures.slice(0, 10).map(describeFailure).join('\n')).toBe('')
}, 90_000)

test('the generator is deterministic: a seed and a case number give the same file', async () => {
  const profile = await loadEmbeddedProfile()
  const [base] = fixtureBases('fixtures', profile)
  const a = mutate(base!.bytes, caseRandom(7, 42))
  const b = mutate(base!.bytes, caseRandom(7, 42))
  expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true)
  expect(a.how).toEqual(b.how)
  expect(Buffer.from(mutate(base!.bytes, caseRandom(7, 43)).bytes).equals(Buffer.from(a.bytes))).toBe(false)
})

test('a tool that throws is reported with the seed, the case and the command that reproduces it', async () => {
  const profile = await loadEmbeddedProfile()
  const bases = fixtureBases('fixtures', profile)
  const lsmod = tools.lsmod!
  tools.lsmod = () => {
    throw new TypeError('planted')
  }
  try {
    const { failures } = runFuzzCase(profile, bases, SEED, 3)
    expect(failures.map((f) => [f.kind, f.command, f.caseNo])).toEqual([['exception', 'lsmod', 3]])
    expect(describeFailure(failures[0]!)).toMatch(
      /^fuzz exception: seed 20261126 case 3 \(.+\) 'lsmod': TypeError: planted[\s\S]*reproduce: npm run fuzz -- --seed 20261126 --from 3 --cases 1$/,
    )
  } finally {
    tools.lsmod = lsmod
  }
})
