import { afterEach, describe, expect, test, vi } from 'vitest'
import { main } from './build-fixtures.js'

function capture() {
  const out: string[] = []
  const err: string[] = []
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true))
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true))
  return { out: () => out.join(''), err: () => err.join('') }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('kmodspec build-fixtures', () => {
  test('--help prints the options and exits 0', async () => {
    const io = capture()
    expect(await main(['--help'])).toBe(0)
    expect(io.out()).toContain('usage: kmodspec build-fixtures [--release R] [--headers DIR] [--out DIR]')
  })

  test('an unknown option exits 2 and names it', async () => {
    const io = capture()
    expect(await main(['--colour'])).toBe(2)
    expect(io.err()).toContain("Unknown option '--colour'")
  })

  test('a release without headers exits 1 and says what to install', async () => {
    const io = capture()
    expect(await main(['--release', '9.9.9-kmodspec-none'])).toBe(1)
    expect(io.err()).toBe(
      "kmodspec build-fixtures: kernel headers for 9.9.9-kmodspec-none are not installed (no /lib/modules/9.9.9-kmodspec-none/build): install them with 'apt-get install linux-headers-9.9.9-kmodspec-none'\n",
    )
  })
})
