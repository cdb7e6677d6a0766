// Network devices (net/core/dev.c, net/ethernet/eth.c, net/core/rtnetlink.c of 6.1): alloc_netdev_mqs
// runs the module's setup, register_netdevice names "eth%d"-style templates and runs ndo_init,
// rtnl_link_unregister takes down the devices of its ops; /sys/class/net shows them beside lo.
import type { KernelFunction } from '../cpu/types.js'
import { note, type KapiContext, type NetdevInfo } from './context.js'
import { fromUtf8, readCString, readUint, writeUint } from './guest.js'
import { callIf, ptrField, type RegistryHost, type RegistryView } from './registry.js'

/** struct net_device of Debian's 6.1 (offsets from the headers' compiler); NETDEV_ALIGN 32. */
const ND = {
  name: 0,
  flags: 192,
  ops: 208,
  ifindex: 216,
  hardHeaderLen: 222,
  mtu: 224,
  minMtu: 288,
  maxMtu: 292,
  type: 296,
  addrLen: 605,
  broadcast: 904,
  txQueueLen: 984,
  regState: 1256,
  needsFree: 1260,
  privDestructor: 1264,
  linkOps: 2128,
  size: 2432,
}
const OPS = { init: 0, uninit: 8 }
const LINK_OPS = { dellink: 88 }
const NETREG = { registered: 1, unregistered: 3 }
const IFNAMSIZ = 16
const EEXIST = 17n
const ENFILE = 23n
const EINVAL = 22n

interface Netdev {
  addr: bigint
  registered: boolean
}

export class NetdevRegistry implements RegistryView {
  private readonly devs = new Map<bigint, Netdev>()
  private readonly order: bigint[] = []
  private nextIfindex = 2
  readonly linkOps = new Set<bigint>()

  constructor(
    private readonly ctx: KapiContext,
    private readonly host: RegistryHost,
  ) {}

  private name(addr: bigint): string {
    return fromUtf8(readCString(this.ctx.memory, addr + BigInt(ND.name), IFNAMSIZ))
  }

  private registered(): Array<{ name: string; addr: bigint }> {
    return this.order.filter((a) => this.devs.get(a)?.registered).map((addr) => ({ name: this.name(addr), addr }))
  }

  /** What __netdev_printk needs: the name and the registration state. */
  info(addr: bigint): NetdevInfo | undefined {
    if (!this.devs.has(addr)) return undefined
    return { name: this.name(addr), regState: Number(readUint(this.ctx.memory, addr + BigInt(ND.regState), 1)) }
  }

  private alloc(privSize: number, name: string, setup: bigint): bigint {
    if (name.length >= IFNAMSIZ) return 0n
    const m = this.ctx.memory
    const dev = this.ctx.heap.kmalloc(ND.size + ((privSize + 31) & ~31), 'alloc_netdev_mqs')
    m.write(dev + BigInt(ND.name), new TextEncoder().encode(name + '\0'))
    // alloc_netdev_mqs()'s own defaults before setup (dev->gso_max_size etc. are not shown).
    writeUint(m, dev + BigInt(ND.txQueueLen), 4, 1000)
    this.devs.set(dev, { addr: dev, registered: false })
    callIf(this.ctx, this.host, setup, [dev], `alloc_netdev_mqs(${name}): setup`)
    return dev
  }

  /** dev_get_valid_name(): a "%d" template takes the lowest unused number. */
  private assignName(dev: bigint): bigint {
    const name = this.name(dev)
    const taken = new Set(['lo', ...this.registered().map((d) => d.name)])
    let final = name
    if (name.includes('%')) {
      const [pre, post] = name.split('%d')
      if (post === undefined || name.split('%').length !== 2) return BigInt.asUintN(64, -EINVAL)
      let i = 0
      while (taken.has(`${pre}${i}${post}`) && i < 32768) i++
      if (i >= 32768) return BigInt.asUintN(64, -ENFILE)
      final = `${pre}${i}${post}`
    } else if (taken.has(name)) return BigInt.asUintN(64, -EEXIST)
    this.ctx.memory.write(dev + BigInt(ND.name), new TextEncoder().encode(final + '\0'))
    return 0n
  }

  register(dev: bigint): bigint {
    const d = this.devs.get(dev)
    if (!d) return BigInt.asUintN(64, -EINVAL)
    const err = this.assignName(dev)
    if (err !== 0n) return err
    const ops = ptrField(this.ctx, dev, ND.ops)
    if (ops !== 0n) {
      const r = BigInt.asIntN(32, callIf(this.ctx, this.host, ptrField(this.ctx, ops, OPS.init), [dev], `${this.name(dev)}: ndo_init`))
      if (r !== 0n) return BigInt.asUintN(64, r)
    }
    writeUint(this.ctx.memory, dev + BigInt(ND.ifindex), 4, this.nextIfindex++)
    writeUint(this.ctx.memory, dev + BigInt(ND.regState), 1, NETREG.registered)
    d.registered = true
    this.order.push(dev)
    return 0n
  }

  /** unregister_netdevice_queue() and netdev_run_todo(): ndo_uninit, then priv_destructor and free_netdev when asked for. */
  unregister(dev: bigint): void {
    const d = this.devs.get(dev)
    if (!d?.registered) return
    const ops = ptrField(this.ctx, dev, ND.ops)
    if (ops !== 0n) callIf(this.ctx, this.host, ptrField(this.ctx, ops, OPS.uninit), [dev], `${this.name(dev)}: ndo_uninit`)
    d.registered = false
    this.order.splice(this.order.indexOf(dev), 1)
    writeUint(this.ctx.memory, dev + BigInt(ND.regState), 1, NETREG.unregistered)
    callIf(this.ctx, this.host, ptrField(this.ctx, dev, ND.privDestructor), [dev], `${this.name(dev)}: priv_destructor`)
    if (readUint(this.ctx.memory, dev + BigInt(ND.needsFree), 1) & 1n) this.free(dev)
  }

  free(dev: bigint): void {
    if (!this.devs.delete(dev)) return
    const warning = this.ctx.heap.free(dev, 'kfree')
    if (warning) note(this.ctx, warning)
  }

  read(path: string): string | undefined {
    const m = /^\/sys\/class\/net\/([^/]+)\/(mtu|ifindex|type|tx_queue_len|addr_len)$/.exec(path)
    if (!m) return undefined
    const d = this.registered().find((x) => x.name === m[1])
    if (!d) return undefined
    const mem = this.ctx.memory
    const at = (off: number, size: 1 | 2 | 4) => readUint(mem, d.addr + BigInt(off), size)
    const v = { mtu: at(ND.mtu, 4), ifindex: at(ND.ifindex, 4), type: at(ND.type, 2), tx_queue_len: at(ND.txQueueLen, 4), addr_len: at(ND.addrLen, 1) }[
      m[2] as 'mtu'
    ]
    return `${v}\n`
  }

  list(path: string): string[] | undefined {
    if (path === '/sys/class/net') return ['lo', ...this.registered().map((d) => d.name)].sort()
    return undefined
  }

  functions(): Record<string, KernelFunction> {
    const m = this.ctx.memory
    const w = (dev: bigint, off: number, size: 1 | 2 | 4, v: number) => writeUint(m, dev + BigInt(off), size, v)
    const unregisterLinkOps = (ops: bigint) => {
      this.linkOps.delete(ops)
      for (const d of this.registered().filter((x) => ptrField(this.ctx, x.addr, ND.linkOps) === ops)) {
        const dellink = ptrField(this.ctx, ops, LINK_OPS.dellink)
        if (dellink !== 0n) callIf(this.ctx, this.host, dellink, [d.addr, 0n], `${d.name}: dellink`)
        else this.unregister(d.addr)
      }
    }
    return {
      alloc_netdev_mqs: (c) => this.alloc(Number(c.arg(0)), fromUtf8(readCString(m, c.arg(1), 64)), c.arg(3)),
      // ether_setup() (net/ethernet/eth.c): the Ethernet defaults.
      ether_setup: (c) => {
        const dev = c.arg(0)
        w(dev, ND.type, 2, 1)
        w(dev, ND.hardHeaderLen, 2, 14)
        w(dev, ND.mtu, 4, 1500)
        w(dev, ND.minMtu, 4, 68)
        w(dev, ND.maxMtu, 4, 1500)
        w(dev, ND.addrLen, 1, 6)
        w(dev, ND.txQueueLen, 4, 1000)
        w(dev, ND.flags, 4, 0x1002) // IFF_BROADCAST | IFF_MULTICAST
        m.write(dev + BigInt(ND.broadcast), new Uint8Array([255, 255, 255, 255, 255, 255]))
      },
      register_netdevice: (c) => this.register(c.arg(0)),
      register_netdev: (c) => this.register(c.arg(0)),
      unregister_netdevice_queue: (c) => this.unregister(c.arg(0)),
      unregister_netdev: (c) => this.unregister(c.arg(0)),
      free_netdev: (c) => this.free(c.arg(0)),
      rtnl_link_register: (c) => void this.linkOps.add(c.arg(0)),
      __rtnl_link_register: (c) => void this.linkOps.add(c.arg(0)),
      rtnl_link_unregister: (c) => unregisterLinkOps(c.arg(0)),
      __rtnl_link_unregister: (c) => unregisterLinkOps(c.arg(0)),
      netif_carrier_on: () => 0n,
      netif_carrier_off: () => 0n,
    }
  }
}
