// The crypto API's algorithm registry (crypto/api.c, crypto/algapi.c, crypto/shash.c of 6.1): modules
// register algorithms; crypto_alloc_* finds the best by name or driver name and takes a reference on
// its module (crypto_mod_get: try_module_get), crypto_free_* / crypto_destroy_tfm drops it.
import type { KernelFunction } from '../cpu/types.js'
import { cstringArg, note, type KapiContext } from './context.js'
import { fromUtf8, readCString, readUint, s32, writeUint } from './guest.js'
import { callIf, ptrField, type RegistryHost, type RegistryView } from './registry.js'

/** struct crypto_alg of Debian's 6.1 (offsets from the headers' compiler). */
const ALG = { flags: 32, ctxsize: 40, priority: 48, refcnt: 52, name: 56, driver: 184, init: 352, exit: 360, module: 376, size: 384 }
/** struct shash_alg: the crypto_alg at +96, descsize at +80, init_tfm at +64, digestsize at +88. */
const SHASH = { base: 96, descsize: 80, initTfm: 64, digestsize: 88 }
/** struct crypto_tfm: exit at +16, __crt_alg at +24, the context from +32. */
const TFM = { exit: 16, alg: 24, ctx: 32 }
const CRYPTO_ALG_TYPE_MASK = 0xf
const CRYPTO_ALG_TYPE_SHASH = 0xe
const CRYPTO_ALG_DEAD = 0x20
const ENOENT = 2n
const EEXIST = 17n

export interface CryptoAlg {
  /** &struct crypto_alg in guest memory. */
  addr: bigint
  name: string
  driver: string
  priority: number
  flags: number
  module: bigint
  kind: string
  /** The shash_alg around it, for shashes. */
  shash?: bigint
  /** cra_refcnt as the kernel counts it: 1 for the registration, +1 per tfm. */
  refcnt: number
}

const errPtr = (e: bigint) => BigInt.asUintN(64, -e)

/** The registered algorithms and the functions that use them. */
export class CryptoRegistry implements RegistryView {
  /** Registered algorithms, newest first. */
  readonly algs: CryptoAlg[] = []
  private readonly tfms = new Map<bigint, CryptoAlg>()

  constructor(
    private readonly ctx: KapiContext,
    private readonly host: RegistryHost,
    private readonly requestModule: (name: string) => void,
  ) {}

  private readAlg(addr: bigint, kind: string, shash?: bigint): CryptoAlg {
    const m = this.ctx.memory
    const str = (off: number) => fromUtf8(readCString(m, addr + BigInt(off), 128))
    return {
      addr,
      name: str(ALG.name),
      driver: str(ALG.driver),
      priority: s32(readUint(m, addr + BigInt(ALG.priority), 4)),
      flags: Number(readUint(m, addr + BigInt(ALG.flags), 4)),
      module: readUint(m, addr + BigInt(ALG.module), 8),
      kind,
      shash,
      refcnt: 1,
    }
  }

  /** crypto_register_alg(): -EEXIST for a driver name already registered; the driver name defaults to the name. */
  register(addr: bigint, kind: string, shash?: bigint): bigint {
    const alg = this.readAlg(addr, kind, shash)
    if (alg.driver === '') {
      alg.driver = alg.name
      this.ctx.memory.write(addr + BigInt(ALG.driver), new TextEncoder().encode(alg.name + '\0'))
    }
    if (this.algs.some((a) => a.addr === addr || a.driver === alg.driver)) return errPtr(EEXIST)
    writeUint(this.ctx.memory, addr + BigInt(ALG.refcnt), 4, 1)
    this.algs.unshift(alg)
    return 0n
  }

  unregister(addr: bigint): bigint {
    const i = this.algs.findIndex((a) => a.addr === addr)
    if (i < 0) return errPtr(ENOENT)
    this.algs.splice(i, 1)
    return 0n
  }

  /** __crypto_alg_lookup(): an exact driver name wins, else the highest priority of that name; its module must be gettable. */
  private lookup(name: string, kind: string | undefined): CryptoAlg | undefined {
    let best: CryptoAlg | undefined
    for (const a of this.algs) {
      if (kind !== undefined && a.kind !== kind) continue
      if (a.flags & CRYPTO_ALG_DEAD) continue
      const exact = a.driver === name
      if (!exact && a.name !== name) continue
      if (best && !exact && a.priority <= best.priority) continue
      if (!this.host.moduleGet(a.module)) continue
      if (best) this.host.modulePut(best.module)
      best = a
      if (exact) break
    }
    return best
  }

  /**
   * crypto_alloc_tfm_node(): the best algorithm by name (asking modprobe for "crypto-NAME" and
   * "crypto-NAME-all" when there is none), a tfm with its context, cra_init run; the reference taken stays with the tfm.
   */
  allocShash(name: string): bigint {
    let alg = this.lookup(name, 'shash')
    if (!alg) {
      this.requestModule(`crypto-${name}`)
      alg = this.lookup(name, 'shash') ?? (this.requestModule(`crypto-${name}-all`), this.lookup(name, 'shash'))
    }
    if (!alg) {
      note(
        this.ctx,
        `crypto_alloc_shash("${name}"): no module registered it in the simulator; the VM also has the kernel's built-in algorithms, which the simulator does not model`,
      )
      return errPtr(ENOENT)
    }
    const m = this.ctx.memory
    const ctxsize = Number(readUint(m, alg.addr + BigInt(ALG.ctxsize), 4))
    const mem = this.ctx.heap.kmalloc(8 + TFM.ctx + ctxsize, 'crypto_alloc_shash')
    const tfm = mem + 8n
    writeUint(m, tfm + BigInt(TFM.alg), 8, alg.addr)
    writeUint(m, mem, 4, readUint(m, alg.shash! + BigInt(SHASH.descsize), 4))
    alg.refcnt++
    this.tfms.set(mem, alg)
    const initTfm = ptrField(this.ctx, alg.shash!, SHASH.initTfm)
    const craInit = ptrField(this.ctx, alg.addr, ALG.init)
    const err =
      initTfm !== 0n
        ? callIf(this.ctx, this.host, initTfm, [mem], `${alg.driver}: init_tfm`)
        : callIf(this.ctx, this.host, craInit, [tfm], `${alg.driver}: cra_init`)
    if (s32(err) !== 0) {
      this.release(mem)
      this.ctx.heap.free(mem, 'kfree')
      return BigInt.asUintN(64, BigInt(s32(err)))
    }
    return mem
  }

  private release(mem: bigint): CryptoAlg | undefined {
    const alg = this.tfms.get(mem)
    if (!alg) return undefined
    this.tfms.delete(mem)
    alg.refcnt--
    this.host.modulePut(alg.module)
    return alg
  }

  /** crypto_destroy_tfm(mem, tfm): cra_exit, the module reference dropped, the memory freed. */
  destroy(mem: bigint, tfm: bigint): void {
    if (mem === 0n || mem >= BigInt.asUintN(64, -4095n)) return
    const alg = this.tfms.get(mem)
    if (alg) {
      const exit = ptrField(this.ctx, tfm, TFM.exit)
      if (exit !== 0n) callIf(this.ctx, this.host, exit, [tfm], `${alg.driver}: exit_tfm`)
      else callIf(this.ctx, this.host, ptrField(this.ctx, alg.addr, ALG.exit), [tfm], `${alg.driver}: cra_exit`)
      this.release(mem)
    }
    const warning = this.ctx.heap.free(mem, 'kfree')
    if (warning) note(this.ctx, warning)
  }

  /** crypto_has_alg(): whether an algorithm of that name exists (the reference is dropped again). */
  has(name: string): boolean {
    const a = this.lookup(name, undefined)
    if (a) this.host.modulePut(a.module)
    return a !== undefined
  }

  read(path: string): string | undefined {
    if (path !== '/proc/crypto') return undefined
    note(this.ctx, "/proc/crypto: the simulator lists only the algorithms modules registered; the VM also lists the kernel's built-in ones")
    return this.algs
      .map((a) => {
        const owner = this.host.moduleName?.(a.module) ?? 'kernel'
        return `name         : ${a.name}\ndriver       : ${a.driver}\nmodule       : ${owner}\npriority     : ${a.priority}\nrefcnt       : ${a.refcnt}\nselftest     : passed\ninternal     : no\ntype         : ${a.kind}\n\n`
      })
      .join('')
  }

  list(): string[] | undefined {
    return undefined
  }

  functions(): Record<string, KernelFunction> {
    const shashBase = (p: bigint) => p + BigInt(SHASH.base)
    const registerShash = (p: bigint): bigint => {
      const base = shashBase(p)
      const m = this.ctx.memory
      // shash_prepare_alg(): the type and flags the kernel sets before registering.
      const flags = Number(readUint(m, base + BigInt(ALG.flags), 4))
      writeUint(m, base + BigInt(ALG.flags), 4, (flags & ~CRYPTO_ALG_TYPE_MASK) | CRYPTO_ALG_TYPE_SHASH)
      return this.register(base, 'shash', p)
    }
    return {
      crypto_register_shash: (c) => registerShash(c.arg(0)),
      crypto_unregister_shash: (c) => void this.unregister(shashBase(c.arg(0))),
      crypto_register_shashes: (c) => {
        const n = Number(c.arg(1))
        for (let i = 0; i < n; i++) {
          const r = registerShash(c.arg(0) + BigInt(i) * BigInt(SHASH.base + ALG.size))
          if (r !== 0n) {
            for (let j = i - 1; j >= 0; j--) this.unregister(shashBase(c.arg(0) + BigInt(j) * BigInt(SHASH.base + ALG.size)))
            return r
          }
        }
        return 0n
      },
      crypto_unregister_shashes: (c) => {
        const n = Number(c.arg(1))
        for (let i = n - 1; i >= 0; i--) this.unregister(shashBase(c.arg(0) + BigInt(i) * BigInt(SHASH.base + ALG.size)))
      },
      crypto_register_alg: (c) => this.register(c.arg(0), 'cipher'),
      crypto_unregister_alg: (c) => void this.unregister(c.arg(0)),
      // The type and mask arguments only narrow to shashes, which allocShash looks for anyway.
      crypto_alloc_shash: (c) => this.allocShash(fromUtf8(cstringArg(c, 0))),
      crypto_destroy_tfm: (c) => this.destroy(c.arg(0), c.arg(1)),
      crypto_has_alg: (c) => (this.has(fromUtf8(cstringArg(c, 0))) ? 1 : 0),
    }
  }
}
