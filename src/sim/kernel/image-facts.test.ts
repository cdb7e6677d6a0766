// The loader keeps what it works out from an image's bytes alone (image-facts.ts): the verdicts and the log
// must stay those of a load that worked everything out again.
import { readFileSync } from 'node:fs'
import { expect, test } from 'vitest'
import { loadEmbeddedProfile } from '../../profile/index.js'
import { createSimKernel } from './index.js'
import { imageFacts, neverChanges } from './image-facts.js'

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
  // a signature that is not PKCS#7 logs, and the module still loads as unsigned: this file, insmod'ed on the
  // 6.1.0-56 VM, printed that line before the taint lines and loaded (`kmodspec diff` of it: same, 2026-11-26)
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

test('a module relocated again only where its place and imports are the same: moved, or importing other addresses, it still runs right', () => {
  const feature = readFileSync('fixtures/hello/hello_feature.ko')
  const counter = readFileSync('fixtures/exec/counter.ko')
  const run = (before: boolean) => {
    const k = createSimKernel({ profile })
    // counter first (loaded, then removed): kernel functions are bound in another order, so the hello modules import other addresses
    if (before) expect(k.finitModule(counter, 'loops=3', 0)).toBe(0)
    if (before) expect(k.deleteModule('counter', 0)).toBe(0)
    const from = k.log.nextSeq()
    expect(k.finitModule(api, '', 0)).toBe(0)
    expect(k.finitModule(feature, '', 0)).toBe(0)
    expect(k.deleteModule('hello_feature', 0)).toBe(0)
    expect(k.deleteModule('hello_api', 0)).toBe(0)
    // the modules' own lines (the taint lines come once per boot: counter's load printed them)
    return {
      log: k.log
        .since(from)
        .map((r) => r.text)
        .filter((t) => t.startsWith('[hello')),
      modules: k.readFile('/proc/modules'),
    }
  }
  const plain = run(false)
  expect(plain.log.length).toBeGreaterThan(2)
  const moved = run(true)
  expect(moved.log).toEqual(plain.log)
  expect(run(false)).toEqual(plain)
  expect(run(true)).toEqual(moved)
})

test('bytes promised never to change are found by identity; others by their content', () => {
  const a = Uint8Array.from(api)
  const b = Uint8Array.from(api)
  // two buffers with the same bytes share their facts
  expect(imageFacts(b)).toBe(imageFacts(a))
  neverChanges(a)
  const facts = imageFacts(a)
  expect(imageFacts(a)).toBe(facts)
  // a promised buffer is not compared again (so it must never change: here it is changed to show that)
  a[0] = 0
  expect(imageFacts(a)).toBe(facts)
  // an unpromised one is
  b[0] = 0
  expect(imageFacts(b)).not.toBe(facts)
})
