// The driver core's registrations (drivers/base/driver.c and the buses' wrappers of 6.1): with no
// device to probe, registering a driver only puts it on its bus, /sys/bus/BUS/drivers/NAME.
import type { KernelFunction } from '../cpu/types.js'
import { note, type KapiContext } from './context.js'
import { writeUint } from './guest.js'
import { ptrField, strField, type RegistryView } from './registry.js'

/** Where each bus's driver struct keeps its struct device_driver, and its own name field (offsets of Debian's 6.1). */
const BUSES = {
  pci: { driver: 120, name: 16 },
  i2c: { driver: 56 },
  platform: { driver: 48 },
  serio: { driver: 80 },
  spi: { driver: 32 },
  hid: { driver: 168, name: 0 },
} as const
/** struct device_driver: name +0, bus +8, owner +16. */
const DRV = { name: 0, bus: 8, owner: 16 }
const EBUSY = 16n
const LED_TRIGGER_SIZE = 128

interface Driver {
  /** &struct device_driver. */
  addr: bigint
  bus: string
  name: string
}

export class DriverRegistry implements RegistryView {
  readonly drivers: Driver[] = []
  /** Buses modules registered (bus_register), by struct bus_type address. */
  private readonly buses = new Map<bigint, string>()

  constructor(private readonly ctx: KapiContext) {}

  register(drv: bigint, bus: string, owner?: bigint): bigint {
    const name = strField(this.ctx, drv, DRV.name)
    if (owner !== undefined) writeUint(this.ctx.memory, drv + BigInt(DRV.owner), 8, owner)
    if (this.drivers.some((d) => d.bus === bus && d.name === name)) {
      note(this.ctx, `driver_register(${name}): already registered on ${bus}; the kernel logs an error the simulator does not`)
      return BigInt.asUintN(64, -EBUSY)
    }
    this.drivers.push({ addr: drv, bus, name })
    return 0n
  }

  unregister(drv: bigint): void {
    const i = this.drivers.findIndex((d) => d.addr === drv)
    if (i >= 0) this.drivers.splice(i, 1)
  }

  read(): string | undefined {
    return undefined
  }

  list(path: string): string[] | undefined {
    const m = /^\/sys\/bus\/([^/]+)\/drivers$/.exec(path)
    if (!m) return undefined
    const mine = this.drivers.filter((d) => d.bus === m[1]).map((d) => d.name)
    if (!mine.length) return undefined
    note(this.ctx, `${path}: the simulator lists the drivers modules registered; the VM also lists the kernel's built-in ones`)
    return mine.sort()
  }

  functions(): Record<string, KernelFunction> {
    // A bus's wrapper: copy the bus driver's own name into its device_driver (pci, hid), then register.
    const wrap =
      (bus: keyof typeof BUSES, at: number, ownerAt?: number): KernelFunction =>
      (c) => {
        const spec = BUSES[bus]
        const drv = c.arg(at) + BigInt(spec.driver)
        if ('name' in spec) writeUint(this.ctx.memory, drv + BigInt(DRV.name), 8, ptrField(this.ctx, c.arg(at), spec.name))
        return this.register(drv, bus, ownerAt === undefined ? undefined : c.arg(ownerAt))
      }
    const unwrap =
      (bus: keyof typeof BUSES): KernelFunction =>
      (c) =>
        this.unregister(c.arg(0) + BigInt(BUSES[bus].driver))
    return {
      __pci_register_driver: wrap('pci', 0, 1),
      pci_unregister_driver: unwrap('pci'),
      i2c_register_driver: wrap('i2c', 1, 0),
      i2c_del_driver: unwrap('i2c'),
      __platform_driver_register: wrap('platform', 0, 1),
      platform_driver_unregister: unwrap('platform'),
      __serio_register_driver: wrap('serio', 0, 1),
      serio_unregister_driver: unwrap('serio'),
      __spi_register_driver: wrap('spi', 1, 0),
      __hid_register_driver: wrap('hid', 0, 1),
      hid_unregister_driver: unwrap('hid'),
      driver_register: (c) => {
        const bus = ptrField(this.ctx, c.arg(0), DRV.bus)
        return this.register(c.arg(0), this.buses.get(bus) ?? (bus === 0n ? '' : strField(this.ctx, bus, 0)))
      },
      driver_unregister: (c) => this.unregister(c.arg(0)),
      bus_register: (c) => {
        this.buses.set(c.arg(0), strField(this.ctx, c.arg(0), 0))
        return 0n
      },
      bus_unregister: (c) => void this.buses.delete(c.arg(0)),
      // Attribute files of a driver or class: sysfs entries the simulator does not list.
      driver_create_file: () => 0n,
      driver_remove_file: () => 0n,
      class_create_file_ns: () => 0n,
      class_remove_file_ns: () => 0n,
      // LED triggers: registered by name; with no LED device nothing fires.
      led_trigger_register_simple: (c) => {
        const trig = this.ctx.heap.kmalloc(LED_TRIGGER_SIZE, 'led_trigger_register_simple')
        writeUint(this.ctx.memory, c.arg(1), 8, trig)
      },
      led_trigger_unregister_simple: (c) => {
        if (c.arg(0) !== 0n) this.ctx.heap.free(c.arg(0), 'kfree')
      },
      led_trigger_register: () => 0n,
      led_trigger_unregister: () => 0n,
    }
  }
}
