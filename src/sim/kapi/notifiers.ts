// Notifier chains (kernel/notifier.c of 6.1) and the registrations that only put a callback on a
// list until an event the simulator does not produce (reboot, CPU hotplug, netdev and address events).
import type { KernelFunction } from '../cpu/types.js'
import { note, type KapiContext } from './context.js'

const ENOENT = 2n

/**
 * @example notifierFunctions(ctx).blocking_notifier_chain_register(call) // 0: nb is on the chain
 */
export function notifierFunctions(ctx: KapiContext): Record<string, KernelFunction> {
  const chains = new Map<bigint, bigint[]>()
  const add = (chain: bigint, nb: bigint): bigint => {
    const list = chains.get(chain) ?? chains.set(chain, []).get(chain)!
    if (!list.includes(nb)) list.push(nb)
    return 0n
  }
  const remove = (chain: bigint, nb: bigint): bigint => {
    const list = chains.get(chain) ?? []
    const i = list.indexOf(nb)
    if (i < 0) return BigInt.asUintN(64, -ENOENT)
    list.splice(i, 1)
    return 0n
  }
  // Chains named by a function rather than a head: each has its own key.
  const named = (key: bigint, replays?: string): [KernelFunction, KernelFunction] => [
    (c) => {
      if (replays) note(ctx, replays)
      return add(key, c.arg(0))
    },
    (c) => remove(key, c.arg(0)),
  ]
  const [regReboot, unregReboot] = named(1n)
  const [regNetdev, unregNetdev] = named(
    2n,
    'register_netdevice_notifier: the kernel calls the notifier at once for every existing net device (NETDEV_REGISTER, NETDEV_UP for lo); the simulator does not',
  )
  const [regInetaddr, unregInetaddr] = named(3n)
  const [regInet6addr, unregInet6addr] = named(4n)
  return {
    blocking_notifier_chain_register: (c) => add(c.arg(0), c.arg(1)),
    blocking_notifier_chain_unregister: (c) => remove(c.arg(0), c.arg(1)),
    atomic_notifier_chain_register: (c) => add(c.arg(0), c.arg(1)),
    atomic_notifier_chain_unregister: (c) => remove(c.arg(0), c.arg(1)),
    raw_notifier_chain_register: (c) => add(c.arg(0), c.arg(1)),
    raw_notifier_chain_unregister: (c) => remove(c.arg(0), c.arg(1)),
    srcu_notifier_chain_register: (c) => add(c.arg(0), c.arg(1)),
    srcu_notifier_chain_unregister: (c) => remove(c.arg(0), c.arg(1)),
    register_reboot_notifier: regReboot,
    unregister_reboot_notifier: unregReboot,
    register_netdevice_notifier: regNetdev,
    unregister_netdevice_notifier: unregNetdev,
    register_inetaddr_notifier: regInetaddr,
    unregister_inetaddr_notifier: unregInetaddr,
    register_inet6addr_notifier: regInet6addr,
    unregister_inet6addr_notifier: unregInet6addr,
  }
}
