// What load_module() works out from a module image alone (the signature and ELF checks, the parsed ELF,
// .modinfo, the layout), kept per image content: a spec loads the same .ko on every fresh kernel, and
// these steps cost more than the rest of the load. Entries are found by comparing bytes (never by the
// caller's buffer, which may be reused), and the oldest go once they hold more than RECENT_BYTES.
import { Buffer } from 'node:buffer'
import type { ElfFile } from '../../elf/read.js'
import type { ModuleInfo } from '../../elf/types.js'
import { checkImage, type CheckedImage, type KSection } from './elfcheck.js'
import type { ModuleLayout } from './layout.js'
import type { Printk } from './printk.js'

/** An image parsed by readElf (up to the length the signature check left), with what was derived from it. */
export interface ParsedImage {
  bytes: Buffer
  elf: ElfFile
  info?: ModuleInfo
  /** .modinfo's key=value strings, as get_modinfo() walks them. */
  modinfo?: Array<[string, string]>
}

/** The facts of one image content. */
export interface ImageFacts {
  readonly bytes: Buffer
  /** checkImage()'s passing results that logged nothing, by the flags it reads (the mangling bits). */
  readonly checked: Map<number, CheckedImage>
  /** The parse of the image's first `len` bytes, by len. */
  readonly parsed: Map<number, ParsedImage>
  /** Layouts by profile (its configuration) and load flags: computeLayout() reads nothing else. */
  readonly layouts: WeakMap<object, Map<number, ModuleLayout>>
}

const recent: ImageFacts[] = []
const RECENT_BYTES = 32 * 1024 * 1024

/**
 * The facts kept for an image with these bytes, or a new empty entry (with its own copy of the bytes).
 * @example const facts = imageFacts(image); facts.parsed.get(image.length)?.elf
 */
export function imageFacts(image: Uint8Array): ImageFacts {
  // bytes promised never to change (the file system's kept copy of a .ko) are found by identity
  const known = unchanging.get(image)
  if (known) return known
  const facts = factsByContent(image)
  if (unchanging.has(image)) unchanging.set(image, facts)
  return facts
}

/** Bytes their owner promised never to change, and the facts found for them (undefined until the first load). */
const unchanging = new WeakMap<Uint8Array, ImageFacts | undefined>()

/**
 * Promise that `bytes` will never change: a load of them then finds their facts without comparing them
 * (a module with its debug information is 100 KB to a few MB). The simulator's file system makes this
 * promise for the host files it keeps.
 * @example neverChanges(data); kernel.finitModule(data, '', 0)
 */
export function neverChanges(bytes: Uint8Array): void {
  if (!unchanging.has(bytes)) unchanging.set(bytes, undefined)
}

function factsByContent(image: Uint8Array): ImageFacts {
  const key = Buffer.from(image.buffer, image.byteOffset, image.byteLength)
  for (let i = 0; i < recent.length; i++) {
    const e = recent[i]!
    if (e.bytes.length !== key.length || !e.bytes.equals(key)) continue
    if (i > 0) {
      recent.splice(i, 1)
      recent.unshift(e)
    }
    return e
  }
  const entry: ImageFacts = { bytes: Buffer.from(key), checked: new Map(), parsed: new Map(), layouts: new WeakMap() }
  recent.unshift(entry)
  let total = 0
  for (let i = 0; i < recent.length; i++) {
    total += recent[i]!.bytes.length
    if (total > RECENT_BYTES && i > 0) recent.length = i
  }
  return entry
}

/** Each load rewrites its sections' flags: it gets its own copies. */
function copySections(sections: KSection[]): KSection[] {
  return sections.map((s) => ({ ...s }))
}

/**
 * checkImage() of an image whose facts are `facts`: a passing check that logged nothing is kept, and given
 * again (with fresh sections) to a later load of the same bytes; a failure or a logged line runs every time.
 */
export function checkImageOnce(facts: ImageFacts, flags: number, log: Printk): CheckedImage | number {
  const mangling = flags & 3
  const known = facts.checked.get(mangling)
  if (known) return { ...known, sections: copySections(known.sections) }
  let logged = false
  const result = checkImage(facts.bytes, flags, {
    log: (level, text) => {
      logged = true
      log.log(level, text)
    },
  })
  if (typeof result === 'number' || logged) return result
  facts.checked.set(mangling, { ...result, sections: copySections(result.sections) })
  return result
}
