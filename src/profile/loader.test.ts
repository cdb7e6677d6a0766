import { existsSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { loadEmbeddedProfile } from './embedded.js'
import { profileForRelease } from './headers.js'
import { loaderFacts } from './loader.js'

const config = loadEmbeddedProfile().config

describe('loaderFacts', () => {
  test("6.1's loader: one core allocation, the 6.1 reports", () => {
    expect(loaderFacts(loadEmbeddedProfile())).toEqual({ version: [6, 1], memoryTypes: false, licenseTaintNotice: false, reports612: false, preemptRt: false })
  })
  test('6.4 brings module_memory and the augmented taints; the 6.12 reports come with 6.12', () => {
    expect(loaderFacts({ release: '6.4.0-1-amd64', config })).toMatchObject({ version: [6, 4], memoryTypes: true, licenseTaintNotice: true, reports612: false })
    expect(loaderFacts({ release: '6.12.117+deb12-amd64', config })).toMatchObject({ version: [6, 12], memoryTypes: true, reports612: true })
    expect(loaderFacts({ release: '7.0.1', config })).toMatchObject({ memoryTypes: true, reports612: true })
  })
  test.runIf(existsSync('/lib/modules/6.1.0-56-rt-amd64/build/.config'))('PREEMPT_RT comes from the -rt headers', async () => {
    const rt = await profileForRelease('6.1.0-56-rt-amd64')
    expect(rt.vermagic).toBe('6.1.0-56-rt-amd64 SMP preempt_rt mod_unload modversions ')
    expect(loaderFacts(rt)).toMatchObject({ version: [6, 1], memoryTypes: false, preemptRt: true })
  })
})
