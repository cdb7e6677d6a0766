import { readFileSync } from 'node:fs'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { readModuleSignature } from './signature.js'
import { readModule } from './module.js'

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join(':')
const tree = '/lib/modules/6.1.0-56-amd64/kernel'

describe('readModuleSignature', () => {
  for (const rel of ['net/ipv4/tcp_veno.ko', 'drivers/usb/core/usbcore.ko']) {
    it(`reads what kmod's modinfo shows for ${rel}`, async () => {
      const file = `${tree}/${rel}`
      const bytes = readFileSync(file)
      const sig = readModuleSignature(bytes)!
      const field = async (f: string) => (await execa('modinfo', ['-F', f, file])).stdout.replace(/\s+/g, '')
      expect(sig.idType).toBe(await field('sig_id'))
      expect(sig.signer.replace(/\s+/g, '')).toBe(await field('signer'))
      expect(hex(sig.keyId)).toBe(await field('sig_key'))
      expect(sig.hashAlgo).toBe(await field('sig_hashalgo'))
      expect(hex(sig.signature)).toBe(await field('signature'))
      // The module without its signature is still the same ELF.
      expect(readModule(bytes.subarray(0, sig.moduleSize)).name).toBe(readModule(bytes).name)
    })
  }

  it('finds no signature in an unsigned fixture, as modinfo shows none', async () => {
    const file = new URL('../../fixtures/hello/hello_api.ko', import.meta.url).pathname
    expect(readModuleSignature(readFileSync(file))).toBeUndefined()
    expect((await execa('modinfo', ['-F', 'signer', file])).stdout).toBe('')
  })

  it('never throws on damaged signature blocks', () => {
    const bytes = new Uint8Array(readFileSync(`${tree}/net/ipv4/tcp_veno.ko`))
    let seed = 7
    for (let i = 0; i < 500; i++) {
      const b = new Uint8Array(bytes.subarray(bytes.length - 800))
      seed = (seed * 1103515245 + 12345) >>> 0
      b[seed % (b.length - 28)] = seed >>> 24
      expect(() => readModuleSignature(b)).not.toThrow()
    }
  })
})
