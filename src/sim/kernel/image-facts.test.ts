// The loader keeps what it works out from an image's bytes alone (image-facts.ts): the verdicts and the log
// must stay those of a load that worked everything out again.
import { readFileSync } from 'node:fs'
import { expect, test } from 'vitest'
import { loadEmbeddedProfile } from '../../profile/index.js'
import { createSimKernel } from './index.js'

const profile = loadEmbeddedProfile()
const api = readFileSync('fixtures/hello/hello_api.ko')
const texts = (k: ReturnType<typeof createSimKernel>) => k.log.since(0).map((r) => r.text)

test('a module loaded again, on a fresh kernel, shows the same sizes and log as the first time', () => {
  const views = () => {
    const k = createSimKernel({ profile })
    expect(k.finitModule(api, '', 0)).toBe(0)
    return [k.readFile('/proc/modules'), k.readFile('/sys/module/hello_api/coresize'), k.readFile('/sys/module/hello_api/initsize'), texts(k)]
  }
  const first = views()
  expect(views()).toEqual(first)
})

test('a check that logs is run, and logs, on every load', () => {
  const bad = Uint8Array.from(api)
  bad[0] = 0
  for (let i = 0; i < 2; i++) {
    const k = createSimKernel({ profile })
    expect(k.finitModule(bad, '', 0)).toBe(-8)
    expect(texts(k)).toEqual(['Invalid ELF header magic: != \x7fELF'])
  }
  // a signature that is not PKCS#7 logs, and the module still loads as unsigned
  const marker = Buffer.from('~Module signature appended~\n')
  const sigInfo = Buffer.from([0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 4])
  const signed = Buffer.concat([api, Buffer.alloc(4), sigInfo, marker])
  for (let i = 0; i < 2; i++) {
    const k = createSimKernel({ profile })
    expect(k.finitModule(signed, '', 0)).toBe(0)
    expect(texts(k)[0]).toBe('module: not signed with expected PKCS#7 message')
  }
})

test("the caller's buffer changed in place between loads is checked again", () => {
  const buf = Uint8Array.from(api)
  const k1 = createSimKernel({ profile })
  expect(k1.finitModule(buf, '', 0)).toBe(0)
  buf[0] = 0
  const k2 = createSimKernel({ profile })
  expect(k2.finitModule(buf, '', 0)).toBe(-8)
  buf[0] = 0x7f
  const k3 = createSimKernel({ profile })
  expect(k3.finitModule(buf, '', 0)).toBe(0)
})
