// depmod -A compares whole seconds: the simulated file clock must not let the wall clock decide.
import { readFileSync } from 'node:fs'
import { expect, test, vi } from 'vitest'
import { createSimBackend } from '../backends/sim.js'
import { parseScript } from '../cli/script.js'

test('depmod.sh gives the same depmod -A answer whatever the wall clock shows', async () => {
  const commands = parseScript(readFileSync('fixtures/scripts/depmod.sh', 'utf8'))
  const outputs = new Set<string>()
  // Every millisecond of a second, so that somewhere a second boundary would fall inside the script.
  for (let ms = 0; ms < 1000; ms++) {
    vi.useFakeTimers({ now: 1_700_000_000_000 + ms, toFake: ['Date'] })
    const sim = await createSimBackend()
    try {
      let out = ''
      for (const c of commands) {
        const r = await sim.exec(c.argv)
        out += `${c.text}\n${r.exitCode}\n${r.stdout}${r.stderr}`
      }
      outputs.add(out)
    } finally {
      await sim.close()
      vi.useRealTimers()
    }
  }
  expect(outputs.size).toBe(1)
})
