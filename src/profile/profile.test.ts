import { cp, mkdir, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { execa } from 'execa'
import { withDir } from 'tmp-promise'
import { describe, expect, it } from 'vitest'
import {
  EMBEDDED_RELEASE,
  ProfileError,
  composeVermagic,
  deserializeProfile,
  loadEmbeddedProfile,
  parseKernelConfig,
  parseModuleSymvers,
  profileForRelease,
  profileFromHeaders,
  serializeProfile,
} from './index.js'

const build = `/lib/modules/${EMBEDDED_RELEASE}/build`
const helloApi = new URL('../../fixtures/hello/hello_api.ko', import.meta.url).pathname

describe('profileFromHeaders on the installed Debian headers', () => {
  it('composes the vermagic kmod reads from a module built against them (trailing space included)', async () => {
    const p = await profileFromHeaders(build)
    const { stdout } = await execa('modinfo', ['-F', 'vermagic', helloApi], { stripFinalNewline: false })
    expect(p.vermagic).toBe(stdout.replace(/\n$/, ''))
    expect(p.vermagic).toBe('6.1.0-56-amd64 SMP preempt mod_unload modversions ')
  })

  it('reads the release as uname -r says it, and the loader config facts', async () => {
    const p = await profileFromHeaders(build)
    expect(p.release).toBe(EMBEDDED_RELEASE)
    expect(p.config).toEqual({
      moduleSig: true,
      moduleSigForce: false,
      moduleForceUnload: true,
      modversions: true,
      moduleUnload: true,
      pageSize: 4096,
      strictModuleRwx: true,
      kallsyms: true,
      preemptRt: false,
    })
  })

  it('reads every Module.symvers line, with GPL flag, module and namespace', async () => {
    const p = await profileFromHeaders(build)
    const lines = readFileSync(join(build, 'Module.symvers'), 'utf8').trim().split('\n')
    expect(p.symbols.size).toBe(new Set(lines.map((l) => l.split('\t')[1])).size)
    expect(p.symbols.get('_printk')).toEqual({ name: '_printk', crc: 0x92997ed8, gpl: false, module: 'vmlinux' })
    const [crc, name] = lines[0]!.split('\t') as [string, string]
    expect(p.symbols.get(name)?.crc).toBe(parseInt(crc, 16))
    const [, nsName, , nsKind, namespace] = lines.map((l) => l.split('\t')).find((f) => f[4])! as [string, string, string, string, string]
    expect(p.symbols.get(nsName)).toMatchObject({ namespace, gpl: nsKind === 'EXPORT_SYMBOL_GPL' })
    // The CRC hello_feature was built against for _printk is the kernel's.
    const { stdout } = await execa('modprobe', ['--dump-modversions', helloApi])
    const printk = stdout.split('\n').find((l) => l.endsWith('\t_printk'))!
    expect(p.symbols.get('_printk')!.crc).toBe(parseInt(printk.split('\t')[0]!, 16))
  })
})

describe('parsers', () => {
  it('names the file and line of a bad Module.symvers line', () => {
    const text = '0x4c9d28b0\tphys_base\tvmlinux\tEXPORT_SYMBOL\t\nnot a line\n'
    expect(() => parseModuleSymvers(text, '/x/Module.symvers')).toThrow('/x/Module.symvers:2: expected 4 or 5 tab-separated fields')
    expect(() => parseModuleSymvers('0xZZ\ta\tvmlinux\tEXPORT_SYMBOL\t\n', 'M')).toThrow(/^M:1: CRC "0xZZ"/)
    expect(() => parseModuleSymvers('0x1\ta\tvmlinux\tEXPORT_SYMBOL_FUTURE\t\n', 'M')).toThrow(/M:1: unknown export type/)
    expect(() => parseModuleSymvers(text.split('\n')[0]!, 'M')).not.toThrow()
  })

  it('composes vermagic from the config as vermagic.h does', () => {
    const cfg = (s: string) => parseKernelConfig(s)
    expect(composeVermagic('6.6.0', cfg('CONFIG_SMP=y\nCONFIG_MODULE_UNLOAD=y\n'))).toBe('6.6.0 SMP mod_unload ')
    expect(composeVermagic('6.6.0-rt', cfg('CONFIG_PREEMPT_RT=y\n# CONFIG_SMP is not set\n'))).toBe('6.6.0-rt preempt_rt ')
    expect(composeVermagic('5.10', cfg('CONFIG_X86_32=y\nCONFIG_M686=y\nCONFIG_MODVERSIONS=y\n'))).toBe('5.10 modversions 686 ')
    expect(composeVermagic('6.1', cfg('CONFIG_SMP=y\n'), 'abc123')).toBe('6.1 SMP RANDSTRUCT_abc123')
    expect(cfg('CONFIG_MODULE_SIG_HASH="sha256"\n').get('MODULE_SIG_HASH')).toBe('sha256')
  })
})

describe('profileForRelease', () => {
  it('says which package to install when the headers are missing', async () => {
    await withDir(async ({ path }) => {
      await expect(profileForRelease('9.9.9-1-amd64', path)).rejects.toThrow(ProfileError)
      await expect(profileForRelease('9.9.9-1-amd64', path)).rejects.toThrow(/apt-get install linux-headers-9\.9\.9-1-amd64/)
    })
  })

  it('reads a headers tree under a modules root, and reports a bad Module.symvers line with file:line', async () => {
    await withDir(
      async ({ path }) => {
        const b = join(path, 'x', 'build')
        await mkdir(join(b, 'include/generated'), { recursive: true })
        await cp(join(build, '.config'), join(b, '.config'))
        await writeFile(join(b, 'include/generated/utsrelease.h'), '#define UTS_RELEASE "x"\n')
        await writeFile(join(b, 'Module.symvers'), '0x00000001\tfoo\tvmlinux\tEXPORT_SYMBOL_GPL\tNS\n')
        const p = await profileForRelease('x', path)
        expect(p.vermagic).toBe('x SMP preempt mod_unload modversions ')
        expect(p.symbols.get('foo')).toEqual({ name: 'foo', crc: 1, gpl: true, module: 'vmlinux', namespace: 'NS' })
        await writeFile(join(b, 'Module.symvers'), '0x00000001\tfoo\tvmlinux\tEXPORT_SYMBOL_GPL\tNS\n0x1\tbar\n')
        await expect(profileForRelease('x', path)).rejects.toThrow(`${join(b, 'Module.symvers')}:2:`)
      },
      { unsafeCleanup: true },
    )
  })
})

describe('the embedded profile', () => {
  it('equals the profile built from the installed headers', async () => {
    const embedded = loadEmbeddedProfile()
    const fromHeaders = await profileFromHeaders(build)
    expect(embedded.release).toBe(fromHeaders.release)
    expect(embedded.vermagic).toBe(fromHeaders.vermagic)
    expect(embedded.config).toEqual(fromHeaders.config)
    expect([...embedded.symbols.values()]).toEqual([...fromHeaders.symbols.values()])
  })

  it('round-trips through serialize/deserialize and rejects other data', () => {
    const p = loadEmbeddedProfile()
    expect(loadEmbeddedProfile()).toBe(p) // parsed once, shared
    const back = deserializeProfile(serializeProfile(p))
    expect(back.symbols.size).toBe(p.symbols.size)
    // the symbol map is made on first use: every way of reading it sees every entry
    const fresh = () => deserializeProfile(serializeProfile(p)).symbols
    expect(fresh().get('_printk')).toEqual(p.symbols.get('_printk'))
    expect(fresh().has('_printk')).toBe(true)
    expect([...fresh()]).toEqual([...p.symbols])
    expect([...fresh().keys()]).toEqual([...p.symbols.keys()])
    expect(fresh() instanceof Map).toBe(true)
    expect(() => deserializeProfile(new Uint8Array([1, 2, 3]), 'junk.gz')).toThrow(/junk\.gz is not a gzip'd JSON kernel profile/)
    // the symbols line is checked when a symbol is first looked up
    const head = JSON.stringify({ format: 2, release: 'r', vermagic: 'v', config: p.config, modules: ['vmlinux'] })
    const odd = deserializeProfile(gzipSync(`${head}\n${JSON.stringify([['f', 1, 3, 0]])}`), 'odd.gz')
    expect(odd.release).toBe('r')
    expect(() => odd.symbols.get('f')).toThrow('odd.gz: symbol f names module #3, past the 1 stored module names')
    expect(() => odd.symbols.size).toThrow(/odd\.gz: symbol f/)
    const cut = deserializeProfile(gzipSync(`${head}\n[["f", 1,`), 'cut.gz')
    expect(() => cut.symbols.has('f')).toThrow(/cut\.gz: its symbols are not gzip'd JSON/)
    // the first line is read from the start of the file alone: a file cut after it fails at the first look-up
    const whole = serializeProfile(p)
    const short = deserializeProfile(whole.subarray(0, Math.floor(whole.length * 0.6)), 'short.gz')
    expect(short.release).toBe(p.release)
    expect(() => short.symbols.get('_printk')).toThrow(/short\.gz: its symbols are not gzip'd JSON \(unexpected end of file\)/)
    // a first line longer than the part inflated first is still found
    const long = deserializeProfile(
      gzipSync(
        `${JSON.stringify({ format: 2, release: 'r', vermagic: 'v', config: p.config, modules: ['vmlinux'], pad: randomBytes(30000).toString('hex') })}\n[]`,
      ),
      'long.gz',
    )
    expect(long.release).toBe('r')
    expect(long.symbols.size).toBe(0)
    const flat = deserializeProfile(gzipSync(`${head}\n[1]`), 'flat.gz')
    expect(() => flat.symbols.get('f')).toThrow(/flat\.gz: a symbol is not a \[name, crc, module, gpl\] list/)
    // a format 1 file (one JSON object) is refused at once
    expect(() => deserializeProfile(gzipSync(JSON.stringify({ format: 1, release: 'r', modules: [], symbols: [] })), 'old.gz')).toThrow(
      'old.gz has format 1, expected 2; regenerate it with node scripts/make-profile.mjs',
    )
  })
})
