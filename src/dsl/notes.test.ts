import { expect, test } from 'vitest'
import { formatTranscript } from './transcript.js'

test('the transcript shows the simulator notes under the command that caused them', () => {
  const text = formatTranscript([
    {
      argv: ['insmod', 'm.ko'],
      exitCode: 0,
      stdout: '',
      stderr: '',
      dmesg: [{ seq: 1, level: 6, facility: 0, timestampUs: 1, text: '[m] hi' }],
      step: 1,
      probe: false,
      notes: ['m: schedule_work: not modelled by the simulator; it returned 0'],
    },
  ])
  expect(text).toMatchInlineSnapshot(`
    "  $ insmod m.ko  exit 0
        [m] hi
        (simulator note) m: schedule_work: not modelled by the simulator; it returned 0"
  `)
})
