// How a release's module loader and its reports differ from 6.1's, as facts the simulator asks.
// Each fact was seen in the captures of the releases the project captures (fixtures/captures/<release>):
// 6.1.0-56-amd64, 6.1.0-56-rt-amd64 and 6.12.117+deb12-amd64.
import type { KernelProfile } from './types.js'

/** What the simulated loader does differently from one kernel version to another. */
export interface LoaderFacts {
  /** The upstream version, [major, minor], from the release (6.12.117+deb12-amd64: [6, 12]). */
  version: [number, number]
  /**
   * 6.4+ (module_memory): text, rodata, ro_after_init and data are allocations of their own, and the kallsyms
   * tables join the data one without a page of their own: hello_api is 12288 bytes on 6.12, 16384 on 6.1.
   */
  memoryTypes: boolean
  /**
   * 6.4+ (module_augment_kernel_taints()): the proprietary taint is read before the license check, so a module
   * whose license newly taints the kernel also logs "<name>: module license taints kernel." (seen on 6.12).
   */
  licenseTaintNotice: boolean
  /**
   * Report lines seen on 6.12 and not on 6.1: "CPU: 0 UID: 0 PID: ...", a "Tainted: [O]=OOT_MODULE, ..." line
   * after it, and die()'s "Oops: Oops: 0002 [#1]". Assumed from 6.12 on (no release between was captured).
   */
  reports612: boolean
  /** CONFIG_PREEMPT_RT: die() says PREEMPT_RT where other kernels say PREEMPT. */
  preemptRt: boolean
}

/**
 * The loader facts of a profile's kernel.
 * @example loaderFacts(profile).memoryTypes // true for 6.12.117+deb12-amd64, false for 6.1.0-56-amd64
 */
export function loaderFacts(profile: Pick<KernelProfile, 'release' | 'config'>): LoaderFacts {
  const m = /^(\d+)\.(\d+)/.exec(profile.release)
  const version: [number, number] = m ? [Number(m[1]), Number(m[2])] : [6, 1]
  const atLeast = (major: number, minor: number) => version[0] > major || (version[0] === major && version[1] >= minor)
  return {
    version,
    memoryTypes: atLeast(6, 4),
    licenseTaintNotice: atLeast(6, 4),
    reports612: atLeast(6, 12),
    preemptRt: profile.config.preemptRt === true,
  }
}
