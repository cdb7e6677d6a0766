// Thousands of corrupted modules through every tool: no exception, no hang, no broken machine.
import { expect, test } from 'vitest'
import { loadEmbeddedProfile } from '../../profile/index.js'
import { fixtureBases } from './bases.js'
import { describeFailure, runFuzzCase, type FuzzFailure } from './run.js'

const SEED = 20261126
const CASES = Number(process.env.KMODSPEC_FUZZ_CASES ?? 3000)

test(`${CASES} corrupted modules (seed ${SEED}): 0 exceptions, 0 hangs, 0 crashes`, async () => {
  const profile = await loadEmbeddedProfile()
  const bases = fixtureBases('fixtures', profile)
  expect(bases.length).toBeGreaterThan(10)
  const failures: FuzzFailure[] = []
  for (let i = 0; i < CASES; i++) failures.push(...runFuzzCase(profile, bases, SEED, i).failures)
  expect(failures.slice(0, 10).map(describeFailure).join('\n')).toBe('')
}, 60_000)
