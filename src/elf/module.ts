import { Buffer } from 'node:buffer'
import { readElf, SHN_UNDEF, SHT_NOBITS, STT_SECTION, stType, type ElfFile } from './read.js'
import { ElfError, type ElfSection, type ElfSymbol, type ModuleInfo } from './types.js'

/** Section holding `struct module`; its presence is what makes an object a kernel module. */
export const THIS_MODULE_SECTION = '.gnu.linkonce.this_module'
/** offsetof(struct module, name) on 64-bit kernels: `enum module_state state` (4 + 4 pad) then `struct list_head list` (16). */
export const MODULE_NAME_OFFSET = 24
/** MODULE_NAME_LEN = 64 - sizeof(unsigned long). */
export const MODULE_NAME_LEN = 56
/** sizeof(struct module) on Debian 12's 6.1 x86-64 kernel (checked on the host's .ko files). */
export const THIS_MODULE_SIZE_6_1 = 0x380
/** sizeof(struct modversion_info): 8-byte crc then a 56-byte name. */
export const MODVERSION_INFO_SIZE = 64
/** sizeof(struct kernel_symbol) with CONFIG_HAVE_ARCH_PREL32_RELOCATIONS: value, name, namespace offsets. */
export const KERNEL_SYMBOL_SIZE = 12

const KSYMTAB_PREFIX = '__ksymtab_'

/**
 * Read a kernel module's static facts from its `.ko` bytes.
 *
 * @throws ElfError for a file that is not ELF, truncated, not x86-64 ET_REL, malformed,
 *   or an object without `.gnu.linkonce.this_module` (`not-a-module`).
 * @example const info = readModule(await readFile('fixtures/hello/hello_api.ko')); info.name // 'hello_api'
 */
export function readModule(bytes: Uint8Array): ModuleInfo {
  return moduleFromElf(readElf(bytes))
}

/**
 * {@link readModule} for an already parsed file (the behaviour deriver shares the parse).
 * With `kernel`, reads what the kernel's loader reads without refusing what it does not check
 * (a short `.gnu.linkonce.this_module`, a `__versions` of odd size, relocations of init/exit that
 * name no symbol); pair it with `readElf(bytes, { kernel: true })`.
 */
export function moduleFromElf(elf: ElfFile, options: { kernel?: boolean } = {}): ModuleInfo {
  const asKernel = options.kernel === true
  const thisModule = elf.sectionByName(THIS_MODULE_SECTION)
  if (!thisModule) {
    throw new ElfError(
      `not a kernel module: the object has no ${THIS_MODULE_SECTION} section (build it with kbuild: make -C /lib/modules/$(uname -r)/build M=$PWD modules)`,
      'not-a-module',
    )
  }
  const name = moduleName(elf, thisModule, asKernel)
  const modinfo = readModinfo(elf)
  const { exports, imports } = readSymbols(elf)
  const versions = readVersions(elf, asKernel)
  const { hasInit, hasExit } = initExit(elf, thisModule)
  const info = { name, modinfo, exports, imports, versions, hasInit, hasExit, sections: elf.sections } as ModuleInfo
  // Decoding every symbol costs; most callers (depmod over 4,000 modules) never look.
  let symbols: ElfSymbol[] | undefined
  Object.defineProperty(info, 'symbols', {
    enumerable: true,
    configurable: true,
    get: () => (symbols ??= elf.symbols()),
    set: (v: ElfSymbol[]) => {
      symbols = v
    },
  })
  return info
}

function moduleName(elf: ElfFile, s: ElfSection, asKernel: boolean): string {
  if (asKernel && s.type !== SHT_NOBITS) {
    // info->mod->name: read in place, whatever the section's size (the kernel does not check it in 6.1).
    const at = s.offset + MODULE_NAME_OFFSET
    const data = elf.bytes.subarray(Math.min(at, elf.bytes.length), Math.min(at + MODULE_NAME_LEN, elf.bytes.length))
    let end = data.indexOf(0)
    if (end < 0) end = data.length
    return Buffer.from(data.buffer, data.byteOffset, end).toString('utf8')
  }
  if (s.type === SHT_NOBITS || s.size < MODULE_NAME_OFFSET + MODULE_NAME_LEN) {
    throw new ElfError(`malformed module: ${THIS_MODULE_SECTION} is ${s.size} bytes, too small to hold struct module's name`, 'malformed')
  }
  const data = elf.sectionData(s).subarray(MODULE_NAME_OFFSET, MODULE_NAME_OFFSET + MODULE_NAME_LEN)
  let end = data.indexOf(0)
  if (end < 0) end = data.length
  return Buffer.from(data.buffer, data.byteOffset, end).toString('utf8')
}

/** Every `key=value` string of `.modinfo` in file order; NUL padding between entries is skipped. */
function readModinfo(elf: ElfFile): ModuleInfo['modinfo'] {
  const s = elf.sectionByName('.modinfo')
  const out: ModuleInfo['modinfo'] = []
  if (!s || s.type === SHT_NOBITS) return out
  const data = elf.sectionData(s)
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  let i = 0
  while (i < data.length) {
    if (data[i] === 0) {
      i++
      continue
    }
    let end = data.indexOf(0, i)
    if (end < 0) end = data.length
    let eq = -1
    for (let k = i; k < end; k++) {
      if (data[k] === 0x3d) {
        eq = k
        break
      }
    }
    // kmod splits at the first '='; an entry without one is a key with an empty value.
    if (eq < 0) out.push({ key: buf.toString('utf8', i, end), value: '' })
    else out.push({ key: buf.toString('utf8', i, eq), value: buf.toString('utf8', eq + 1, end) })
    i = end + 1
  }
  return out
}

function readSymbols(elf: ElfFile): { exports: ModuleInfo['exports']; imports: string[] } {
  const imports: string[] = []
  const ksymtab = elf.sectionByName('__ksymtab')
  const ksymtabGpl = elf.sectionByName('__ksymtab_gpl')
  const found: Array<{ name: string; gpl: boolean; sec: number; value: number }> = []
  const n = elf.symbolCount()
  for (let i = 1; i < n; i++) {
    const shndx = elf.symbolShndx(i)
    if (shndx === SHN_UNDEF) {
      // The kernel's simplify_symbols walks symtab in index order: keep that order.
      if (elf.symbolNameOff(i) !== 0) imports.push(elf.symbolName(i))
      continue
    }
    const inKsymtab = (ksymtab && shndx === ksymtab.index) || (ksymtabGpl && shndx === ksymtabGpl.index)
    if (inKsymtab && stType(elf.symbolInfo(i)) !== STT_SECTION && elf.symbolNameStartsWith(i, KSYMTAB_PREFIX)) {
      found.push({
        name: elf.symbolName(i).slice(KSYMTAB_PREFIX.length),
        gpl: shndx === ksymtabGpl?.index,
        sec: shndx,
        value: elf.symbolValue(i),
      })
    }
  }
  found.sort((a, b) => a.sec - b.sec || a.value - b.value)
  const crcs = new Map<number, DataView | undefined>()
  const crcView = (gpl: boolean): DataView | undefined => {
    const key = gpl ? 1 : 0
    if (!crcs.has(key)) {
      const s = elf.sectionByName(gpl ? '__kcrctab_gpl' : '__kcrctab')
      const d = s && s.type !== SHT_NOBITS ? elf.sectionData(s) : undefined
      crcs.set(key, d ? new DataView(d.buffer, d.byteOffset, d.byteLength) : undefined)
    }
    return crcs.get(key)
  }
  const exports: ModuleInfo['exports'] = found.map((e) => {
    const out: ModuleInfo['exports'][number] = { name: e.name, gpl: e.gpl }
    // __kcrctab[_gpl] runs parallel to __ksymtab[_gpl]: one u32 per kernel_symbol entry.
    const view = crcView(e.gpl)
    const idx = e.value / KERNEL_SYMBOL_SIZE
    if (view && Number.isInteger(idx) && idx * 4 + 4 <= view.byteLength) out.crc = view.getUint32(idx * 4, true)
    return out
  })
  return { exports, imports }
}

function readVersions(elf: ElfFile, asKernel: boolean): ModuleInfo['versions'] {
  const s = elf.sectionByName('__versions')
  if (!s || s.type === SHT_NOBITS) return []
  if (s.size % MODVERSION_INFO_SIZE !== 0 && !asKernel) {
    throw new ElfError(`malformed module: __versions is ${s.size} bytes, not a multiple of ${MODVERSION_INFO_SIZE} (struct modversion_info)`, 'malformed')
  }
  const data = elf.sectionData(s)
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  const out: ModuleInfo['versions'] = []
  // check_version(): sh_size / sizeof(struct modversion_info) whole entries.
  for (let o = 0; o + MODVERSION_INFO_SIZE <= data.length; o += MODVERSION_INFO_SIZE) {
    let end = o + 8
    const limit = o + MODVERSION_INFO_SIZE
    while (end < limit && data[end] !== 0) end++
    out.push({ name: buf.toString('utf8', o + 8, end), crc: view.getUint32(o, true) })
  }
  return out
}

/** init/exit presence: the `init_module`/`cleanup_module` aliases, or relocations of `__this_module` naming them. */
function initExit(elf: ElfFile, thisModule: ElfSection): { hasInit: boolean; hasExit: boolean } {
  let hasInit = false
  let hasExit = false
  const n = elf.symbolCount()
  for (let i = 1; i < n && !(hasInit && hasExit); i++) {
    if (elf.symbolShndx(i) === SHN_UNDEF) continue
    if (!hasInit && elf.symbolNameStartsWith(i, 'init_module') && elf.symbolName(i) === 'init_module') hasInit = true
    if (!hasExit && elf.symbolNameStartsWith(i, 'cleanup_module') && elf.symbolName(i) === 'cleanup_module') hasExit = true
  }
  if (!(hasInit && hasExit)) {
    for (const r of elf.relocationsFor(thisModule)) {
      const name = elf.symbolName(r.sym)
      if (name === 'init_module') hasInit = true
      if (name === 'cleanup_module') hasExit = true
    }
  }
  return { hasInit, hasExit }
}

/** All values of a `.modinfo` key, in file order (e.g. every `alias`). */
export function modinfoValues(info: Pick<ModuleInfo, 'modinfo'>, key: string): string[] {
  return info.modinfo.filter((e) => e.key === key).map((e) => e.value)
}

/** The first value of a `.modinfo` key, or undefined. */
export function modinfoValue(info: Pick<ModuleInfo, 'modinfo'>, key: string): string | undefined {
  return info.modinfo.find((e) => e.key === key)?.value
}

/** Module names from `depends=` (comma-separated, as modpost writes it); [] when empty or absent. */
export function modinfoDepends(info: Pick<ModuleInfo, 'modinfo'>): string[] {
  return modinfoValues(info, 'depends')
    .flatMap((v) => v.split(','))
    .filter((d) => d.length > 0)
}

/** One module parameter as `.modinfo` describes it (`parm=name:desc`, `parmtype=name:type`). */
export interface ModuleParamInfo {
  name: string
  description?: string
  type?: string
}

/** Module parameters in order of first mention in `.modinfo`, merging `parm` and `parmtype`. */
export function modinfoParams(info: Pick<ModuleInfo, 'modinfo'>): ModuleParamInfo[] {
  const byName = new Map<string, ModuleParamInfo>()
  for (const { key, value } of info.modinfo) {
    if (key !== 'parm' && key !== 'parmtype') continue
    const colon = value.indexOf(':')
    if (colon < 0) continue
    const name = value.slice(0, colon)
    const rest = value.slice(colon + 1)
    let p = byName.get(name)
    if (!p) byName.set(name, (p = { name }))
    if (key === 'parm') p.description ??= rest
    else p.type ??= rest
  }
  return [...byName.values()]
}

/**
 * The exported symbols kmod's depmod sees (libkmod's kmod_elf_get_symbols): the `__crc_<name>`
 * symbols in symtab order when the module has modversions, else every non-empty string of
 * `__ksymtab_strings` (which in 6.1 also holds non-empty namespace names).
 */
export function kmodExportedSymbols(elf: ElfFile): string[] {
  const out: string[] = []
  const n = elf.symbolCount()
  for (let i = 1; i < n; i++) if (elf.symbolNameStartsWith(i, '__crc_')) out.push(elf.symbolName(i).slice(6))
  if (out.length > 0) return out
  const s = elf.sectionByName('__ksymtab_strings')
  if (!s || s.type === SHT_NOBITS) return out
  const data = elf.sectionData(s)
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  let last = 0
  for (let i = 0; i <= data.length; i++) {
    if (i === data.length ? i > last : data[i] === 0) {
      if (i > last) out.push(buf.toString('utf8', last, i))
      last = i + 1
    }
  }
  return out
}
