/** The commands of the simulated machine by name: the script language's, and what install commands run. */
import type { Tool } from './context.js'
import { depmod } from './depmod.js'
import { dmesg } from './dmesg.js'
import { cat, cp, echo, ls, mkdir, rm } from './files.js'
import { insmod } from './insmod.js'
import { lsmod } from './lsmod.js'
import { modinfo } from './modinfo.js'
import { modprobeWith } from './modprobe.js'
import { rmmod } from './rmmod.js'

/**
 * The tools, modprobe running its install and remove commands with this same table.
 * @example toolTable().insmod(ctx, ['insmod', 'x.ko'])
 */
export function toolTable(): Record<string, Tool> {
  return { insmod, rmmod, lsmod, modinfo, modprobe: modprobeWith(toolTable), depmod, dmesg, cat, ls, mkdir, cp, rm, echo }
}
