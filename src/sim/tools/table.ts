/** The commands of the simulated machine by name: the script language's, and what install commands run. */
import type { Tool } from './context.js'
import { depmod } from './depmod.js'
import { dmesg } from './dmesg.js'
import { cat, cp, echo, ls, mkdir, rm } from './files.js'
import { insmod } from './insmod.js'
import { lsmod } from './lsmod.js'
import { modinfo } from './modinfo.js'
import { modprobe } from './modprobe.js'
import { rmmod } from './rmmod.js'

/**
 * Built when called, not at load time: modprobe's install commands run tools that import modprobe.
 * @example toolTable().insmod(ctx, ['insmod', 'x.ko'])
 */
export function toolTable(): Record<string, Tool> {
  return { insmod, rmmod, lsmod, modinfo, modprobe, depmod, dmesg, cat, ls, mkdir, cp, rm, echo }
}
