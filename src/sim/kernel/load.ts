import { SHN_ABS, SHN_COMMON, SHN_LIVEPATCH, SHN_UNDEF, STB_WEAK, stBind, type ElfFile } from '../../elf/read.js'
import { embeddedBehaviour, BEHAVIOUR_SECTION } from '../../elf/behaviour.js'
import type { ModuleInfo } from '../../elf/types.js'
import { findSec, SHF_ALLOC, SHF_RO_AFTER_INIT, type KSection } from './elfcheck.js'
import { checkImageOnce, imageFacts, type ImageFacts } from './image-facts.js'
import { computeLayout, type ModuleLayout } from './layout.js'
import { setupLoadInfo, type LoadInfo } from './load-info.js'
import { loaderFacts } from '../../profile/index.js'
import { parseModuleArgs, readParams } from './params.js'
import { KERN_ERR, KERN_NOTICE, KERN_WARNING } from './printk.js'
import { findModule, type KernelState, type ModExport, type SimModule } from './state.js'
import { checkVersion, resolveSymbol, unrefAll, findSymbol, type VersionInfo } from './symbols.js'
import {
  addTaint,
  addTaintModule,
  logOnce,
  testTaint,
  tryToForceLoad,
  TAINT_CRAP,
  TAINT_LIVEPATCH,
  TAINT_OOT_MODULE,
  TAINT_PROPRIETARY_MODULE,
  TAINT_TEST,
  TAINT_UNSIGNED_MODULE,
  TAINT_USER,
} from './taint.js'
import { runActions, SimKernelFault } from './exec.js'
import { freeInit, machineOf, mapModule, unmapModule, writeParamToModule } from './machine.js'
import { runModuleFunction } from './oops.js'
import type { ModuleBehaviour } from './types.js'
import { errno, MODULE_INIT_IGNORE_MODVERSIONS, MODULE_INIT_IGNORE_VERMAGIC } from './types.js'

const { EPERM, ENOENT, ENOEXEC, ENOMEM, EBUSY, EEXIST, EINVAL, EOPNOTSUPP, EKEYREJECTED } = errno

const MODULE_INIT_COMPRESSED_FILE = 4
/** x86-64 MODULES_END - MODULES_VADDR with a 1 GiB KASLR kernel image (Debian): the largest module_alloc(). */
const MODULES_LEN = 0x3f000000

/** Virtual time the kernel spends in one load or unload syscall, besides the records it prints. */
export const SYSCALL_COST_US = 120

/** include/linux/license.h license_is_gpl_compatible(). */
const GPL_COMPATIBLE = new Set(['GPL', 'GPL v2', 'GPL and additional rights', 'Dual BSD/GPL', 'Dual MIT/GPL', 'Dual MPL/GPL'])

/** init_module(2): the image is copied from user memory; shorter than an ELF header is refused silently. */
export function initModule(k: KernelState, image: Uint8Array, args: string): number {
  if (k.modulesDisabled) return -EPERM
  if (image.length < 64) return -ENOEXEC
  return loadModule(k, image, args, 0)
}

/** finit_module(2): flags checked first, then the file read (an empty file is -EINVAL). */
export function finitModule(k: KernelState, image: Uint8Array, args: string, flags: number): number {
  if (k.modulesDisabled) return -EPERM
  if (flags & ~(MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC | MODULE_INIT_COMPRESSED_FILE)) return -EINVAL
  if (image.length === 0) return -EINVAL
  if (flags & MODULE_INIT_COMPRESSED_FILE) return -EOPNOTSUPP
  return loadModule(k, image, args, flags)
}

/** load_module() of kernel/module/main.c (6.1), step by step, then do_init_module(). */
function loadModule(k: KernelState, image: Uint8Array, uargs: string, flags: number): number {
  k.printk.tick(SYSCALL_COST_US)
  const { config } = k.profile
  const facts = imageFacts(image)
  const checked = checkImageOnce(facts, flags, k.printk)
  if (typeof checked === 'number') return checked
  if (!checked.sigOk && config.moduleSigForce) {
    k.printk.log(KERN_NOTICE, 'Loading of unsigned module is rejected')
    return -EKEYREJECTED
  }
  const li = setupLoadInfo(k, facts, checked.sections, checked.len, flags)
  if (typeof li === 'number') return li
  const { elf, info, sections } = li

  const mod = newModule(info)
  const vinfo: VersionInfo = {
    name: li.infoName,
    versions: li.versIdx ? new Map(info.versions.map((v) => [v.name, v.crc])) : undefined,
    importNs: li.all('import_ns'),
  }
  if (!config.modversions) vinfo.versions = new Map()
  // check_modstruct_version()
  const layoutSym = k.profile.symbols.get('module_layout')
  if (config.modversions && !checkVersion(k, vinfo, 'module_layout', mod, layoutSym ? layoutSym.crc : null)) return -ENOEXEC

  // 6.4+ reads the proprietary taint before check_modinfo()'s license check (module_augment_kernel_taints()).
  const proprietaryBefore = testTaint(k, TAINT_PROPRIETARY_MODULE)
  const layout = layoutAndAllocate(k, li, mod, facts, flags)
  if (typeof layout === 'number') return layout
  const release = () => {
    unmapModule(k, mod)
    k.area.free(mod.address)
    if (mod.initAddress) k.area.free(mod.initAddress)
  }
  const added = addUnformedModule(k, mod, release)
  if (added) return added
  const unlink = (ret: number): number => {
    release()
    unrefAll(mod)
    k.modules = k.modules.filter((m) => m !== mod)
    mod.state = 'gone'
    return ret
  }

  if (config.moduleSig && !checked.sigOk) {
    logOnce(k, 'sig', KERN_NOTICE, `${mod.name}: module verification failed: signature and/or required key missing - tainting kernel`)
    addTaintModule(k, mod, TAINT_UNSIGNED_MODULE, false)
  }
  mod.refcnt = 2 // module_unload_init(): MODULE_REF_BASE plus the reference held during init
  findModuleSections(k, li, mod)
  checkModuleLicenseAndVersions(k, li, mod, proprietaryBefore)
  mod.version = li.get('version')
  mod.srcversion = li.get('srcversion')

  const serr = simplifySymbols(k, li, mod, vinfo)
  if (serr < 0) return unlink(serr)

  // move_module() + apply_relocations(): the module's own code runs on the simulated CPU, unless
  // it is a model the user wrote (defineModule(), or an override by name).
  if (!k.overrides.has(mod.name) && !elf.sectionByName(BEHAVIOUR_SECTION)) {
    const rerr = mapModule(k, mod, elf, sections, layout)
    if (rerr) return unlink(rerr)
  }
  const cerr = completeFormation(k, mod)
  if (cerr) return unlink(cerr)

  // parse_args(): the param ops write into the module's own variables, where init reads them.
  const before = mod.params.map((p) => p.value)
  const perr = parseModuleArgs(mod.name, uargs, mod.params, k.printk, { taintUser: () => addTaint(k, TAINT_USER, false) })
  if (perr) {
    mod.state = 'going'
    return unlink(perr)
  }
  mod.params.forEach((p, i) => {
    if (p.value !== before[i]) writeParamToModule(k, mod, i)
  })
  return doInitModule(k, mod, elf, info)
}

/** layout_and_allocate(): check_modinfo(), the section flags, the layout, then move_module()'s allocations. */
function layoutAndAllocate(k: KernelState, li: LoadInfo, mod: SimModule, facts: ImageFacts, flags: number): ModuleLayout | number {
  const { config } = k.profile
  const { sections, elf, symIdx, pcpuIdx } = li
  const err = checkModinfo(k, mod, li.infoName, li.get, flags, li.versIdx !== 0)
  if (err) return err
  sections[pcpuIdx]!.flags &= ~SHF_ALLOC
  for (const n of ['.data..ro_after_init', '__jump_table']) {
    const i = findSec(sections, n)
    if (i) sections[i]!.flags |= SHF_RO_AFTER_INIT
  }
  // the layout reads only the image, the flags (which sections lost SHF_ALLOC) and the profile's configuration
  let byFlags = facts.layouts.get(k.profile)
  if (!byFlags) facts.layouts.set(k.profile, (byFlags = new Map()))
  const image = facts.bytes
  const strOff = sections[sections[symIdx]!.link]?.offset ?? 0
  const layout =
    byFlags.get(flags) ??
    computeLayout(
      sections,
      {
        count: elf.symbolCount(),
        shndx: (i) => elf.symbolRaw(i).shndx,
        nameLen: (i) => cstrlen(image, strOff, elf.symbolRaw(i).nameOff),
      },
      {
        pageSize: config.pageSize,
        strictModuleRwx: config.strictModuleRwx,
        kallsyms: config.kallsyms,
        kallsymsAll: true,
        symtabIndex: symIdx,
        strtabIndex: sections[symIdx]!.link,
        pcpuIndex: pcpuIdx,
        memoryTypes: loaderFacts(k.profile).memoryTypes,
      },
    )
  byFlags.set(flags, layout)
  mod.coreSize = layout.coreSize
  mod.initSize = layout.initSize
  // module_alloc() refuses what the module area cannot hold (sizes from sh_size/sh_addralign are untrusted).
  const pageUp = (n: number) => Math.ceil(n / config.pageSize) * config.pageSize
  if (!(pageUp(layout.coreSize) <= MODULES_LEN) || !(pageUp(layout.initSize) <= MODULES_LEN)) return -ENOMEM

  // move_module(): core, then init, allocated before the module is listed.
  mod.address = k.area.alloc(layout.span?.core ?? layout.coreSize)
  mod.initAddress = layout.initSize ? k.area.alloc(layout.span?.init ?? layout.initSize) : 0n
  return layout
}

/** add_unformed_module(): lists the module, or refuses a name already there (releasing what was allocated). */
function addUnformedModule(k: KernelState, mod: SimModule, release: () => void): number {
  const old = findModule(k, mod.name, true)
  if (old) {
    release()
    if (old.state === 'coming' || old.state === 'unformed') {
      // It waits for the first load to finish; one stuck by an oops in its init never does (seen on the VM).
      k.notes.push(
        `${mod.name}: a module of this name is still loading (its init never returned): the kernel waits for it to finish, so the command never returns; on the VM it runs until its timeout`,
      )
      throw new SimKernelFault('hang', '')
    }
    return old.state === 'live' ? -EEXIST : -EBUSY
  }
  k.modules.unshift(mod)
  return 0
}

/** find_module_sections(): the parameters, the obsolete-parameter warning and the exports. */
function findModuleSections(k: KernelState, li: LoadInfo, mod: SimModule): void {
  const { elf, sections } = li
  try {
    mod.params = readParams(elf, elf.sections[findSec(sections, '__param')] ?? undefined)
  } catch {
    // A __param table whose names or relocations point nowhere: the kernel would read garbage there.
    k.notes.push(`${mod.name}: its __param table points outside the module; the simulator shows no parameters for it`)
    mod.params = []
  }
  if (findSec(sections, '__obsparm')) k.printk.log(KERN_WARNING, `${mod.name}: Ignoring obsolete parameters`)
  readExports(elf, li.info, sections, mod)
}

/** check_module_license_and_versions(): the license taint of known binary-only names, and exports without CRCs. */
function checkModuleLicenseAndVersions(k: KernelState, li: LoadInfo, mod: SimModule, proprietaryBefore: boolean): void {
  const prev = loaderFacts(k.profile).licenseTaintNotice ? proprietaryBefore : testTaint(k, TAINT_PROPRIETARY_MODULE)
  if (mod.name === 'ndiswrapper') addTaint(k, TAINT_PROPRIETARY_MODULE, true)
  if (mod.name === 'driverloader' || mod.name === 'lve') addTaintModule(k, mod, TAINT_PROPRIETARY_MODULE, true)
  if (!prev && testTaint(k, TAINT_PROPRIETARY_MODULE)) k.printk.log(KERN_WARNING, `${mod.name}: module license taints kernel.`)
  if (k.profile.config.modversions) {
    const hasSyms = li.info.exports.some((e) => !e.gpl)
    const hasGpl = li.info.exports.some((e) => e.gpl)
    if ((hasSyms && !findSec(li.sections, '__kcrctab')) || (hasGpl && !findSec(li.sections, '__kcrctab_gpl'))) {
      tryToForceLoad(k, mod, 'no versions for exported symbols')
    }
  }
}

/** The symbol table entries simplify_symbols() acts on (common, undefined, or past the sections), kept with the parsed image. */
const toSimplify = new WeakMap<ElfFile, { sections: number; list: number[] }>()
function symbolsToSimplify(elf: ElfFile, sections: number): number[] {
  const known = toSimplify.get(elf)
  if (known && known.sections === sections) return known.list
  const list: number[] = []
  for (let i = 1; i < elf.symbolCount(); i++) {
    const { shndx } = elf.symbolRaw(i)
    if (shndx === SHN_COMMON || shndx === SHN_UNDEF || (shndx >= sections && shndx !== SHN_ABS && shndx !== SHN_LIVEPATCH)) list.push(i)
  }
  toSimplify.set(elf, { sections, list })
  return list
}

/** simplify_symbols(): every undefined symbol resolved (or a weak one left at 0); 0 or the last error. */
function simplifySymbols(k: KernelState, li: LoadInfo, mod: SimModule, vinfo: VersionInfo): number {
  const { elf, sections } = li
  let ret = 0
  for (const i of symbolsToSimplify(elf, sections.length)) {
    const raw = elf.symbolRaw(i)
    if (raw.shndx === SHN_COMMON) {
      if (elf.symbolNameStartsWith(i, '__gnu_lto')) continue
      k.printk.log(KERN_WARNING, `${mod.name}: please compile with -fno-common`)
      ret = -ENOEXEC
    } else if (raw.shndx === SHN_ABS || raw.shndx === SHN_LIVEPATCH) {
      continue
    } else if (raw.shndx === SHN_UNDEF) {
      const name = elf.symbolName(i)
      const r = resolveSymbol(k, mod, vinfo, name)
      if (r === 0) continue
      if (r === undefined && (stBind(raw.info) === STB_WEAK || name === '_GLOBAL_OFFSET_TABLE_')) continue
      ret = r ?? -ENOENT
      k.printk.log(KERN_WARNING, `${mod.name}: Unknown symbol ${name} (err ${ret})`)
    } else if (raw.shndx >= sections.length) {
      k.printk.log(KERN_ERR, `${mod.name}: Symbol ${elf.symbolName(i)} has an invalid section index ${raw.shndx} (max ${sections.length - 1})`)
      ret = -ENOEXEC
    }
  }
  return ret
}

/** complete_formation(): verify_exported_symbols() under the lock, then COMING. */
function completeFormation(k: KernelState, mod: SimModule): number {
  for (const name of mod.exportOrder) {
    const found = findSymbol(k, name, true)
    if (found) {
      k.printk.log(KERN_ERR, `${mod.name}: exports duplicate symbol ${name} (owned by ${found.owner?.name ?? 'kernel'})`)
      return -ENOEXEC
    }
  }
  mod.state = 'coming'
  return 0
}

/** strlen() of a name in the symbol string table, without decoding it. */
function cstrlen(b: Uint8Array, base: number, off: number): number {
  if (off === 0) return 0
  const end = b.indexOf(0, base + off)
  return end < 0 ? 0 : end - base - off
}

function newModule(info: ModuleInfo): SimModule {
  return {
    name: info.name,
    state: 'unformed',
    taints: 0,
    refcnt: 1,
    sources: [],
    targets: [],
    exports: new Map(),
    exportOrder: [],
    hasInit: info.hasInit,
    hasExit: info.hasExit,
    coreSize: 0,
    initSize: 0,
    address: 0n,
    initAddress: 0n,
    params: [],
    behaviour: { functions: {} },
    usingGplOnly: false,
  }
}

/** check_modinfo(): vermagic, then the out-of-tree, staging, livepatch, license and test taints. */
function checkModinfo(k: KernelState, mod: SimModule, infoName: string, get: (t: string) => string | undefined, flags: number, hasCrcs: boolean): number {
  let modmagic = get('vermagic')
  if (flags & MODULE_INIT_IGNORE_VERMAGIC) modmagic = undefined
  const want = k.profile.vermagic
  if (modmagic === undefined) tryToForceLoad(k, mod, 'bad vermagic')
  else if (!sameMagic(modmagic, want, hasCrcs)) {
    k.printk.log(KERN_ERR, `${infoName}: version magic '${modmagic}' should be '${want}'`)
    return -ENOEXEC
  }
  if (get('intree') === undefined) {
    if (!testTaint(k, TAINT_OOT_MODULE)) k.printk.log(KERN_WARNING, `${mod.name}: loading out-of-tree module taints kernel.`)
    addTaintModule(k, mod, TAINT_OOT_MODULE, false)
  }
  if (get('staging') !== undefined) {
    addTaintModule(k, mod, TAINT_CRAP, false)
    k.printk.log(KERN_WARNING, `${mod.name}: module is from the staging directory, the quality is unknown, you have been warned.`)
  }
  if (get('livepatch') !== undefined) {
    addTaintModule(k, mod, TAINT_LIVEPATCH, false)
    logOnce(k, 'livepatch', KERN_NOTICE, `${mod.name}: tainting kernel with TAINT_LIVEPATCH`)
  }
  const license = get('license') ?? 'unspecified'
  if (!GPL_COMPATIBLE.has(license)) {
    if (!testTaint(k, TAINT_PROPRIETARY_MODULE)) k.printk.log(KERN_WARNING, `${mod.name}: module license '${license}' taints kernel.`)
    addTaintModule(k, mod, TAINT_PROPRIETARY_MODULE, true)
  }
  if (get('test') !== undefined) {
    if (!testTaint(k, TAINT_TEST)) k.printk.log(KERN_WARNING, `${mod.name}: loading test module taints kernel.`)
    addTaintModule(k, mod, TAINT_TEST, false)
  }
  return 0
}

/** same_magic(): with CRCs the release (first word) is left to modversions. */
function sameMagic(a: string, b: string, hasCrcs: boolean): boolean {
  if (hasCrcs) {
    const sa = a.indexOf(' ')
    const sb = b.indexOf(' ')
    return (sa < 0 ? '' : a.slice(sa)) === (sb < 0 ? '' : b.slice(sb))
  }
  return a === b
}

/** The module's exports with their CRCs (the __crc_<sym> entries of __kcrctab/__kcrctab_gpl). */
function readExports(elf: ElfFile, info: ModuleInfo, sections: KSection[], mod: SimModule): void {
  const crcs = new Map<string, number>()
  const n = elf.symbolCount()
  for (let i = 1; i < n; i++) {
    if (!elf.symbolNameStartsWith(i, '__crc_')) continue
    const raw = elf.symbolRaw(i)
    const sec = elf.sections[raw.shndx]
    if (!sec || sec.type === 8) continue
    const data = elf.sectionData(sec)
    const off = Number(raw.value)
    if (off + 4 > data.length) continue
    crcs.set(elf.symbolName(i).slice(6), (data[off]! | (data[off + 1]! << 8) | (data[off + 2]! << 16) | (data[off + 3]! << 24)) >>> 0)
  }
  const hasCrc = { false: findSec(sections, '__kcrctab') !== 0, true: findSec(sections, '__kcrctab_gpl') !== 0 }
  for (const gpl of [false, true]) {
    for (const e of info.exports.filter((x) => x.gpl === gpl)) {
      const ex: ModExport = { gpl }
      if (hasCrc[String(gpl) as 'false' | 'true'] && crcs.has(e.name)) ex.crc = crcs.get(e.name)
      mod.exports.set(e.name, ex)
      mod.exportOrder.push(e.name)
    }
  }
}

/** do_init_module(): run init; failure unwinds, success makes the module live and frees init. */
function doInitModule(k: KernelState, mod: SimModule, elf: ElfFile, info: ModuleInfo): number {
  if (mod.code) return finishInit(k, mod, mod.code.init ? runModuleFunction(k, machineOf(k), mod, mod.code.init, 'insmod') : 0)
  // A model the user wrote: an override by name, or the defineModule() model inside the .ko.
  mod.behaviour = k.overrides.get(mod.name) ?? model(k, mod, elf, info)
  const init = mod.behaviour.init
  let ret = 0
  if (mod.hasInit && init) {
    runActions(k, mod, init.actions)
    ret = init.returns
  }
  return finishInit(k, mod, ret)
}

/** The rest of do_init_module() once init has returned `ret`. */
function finishInit(k: KernelState, mod: SimModule, ret: number): number {
  if (ret < 0) {
    unmapModule(k, mod)
    mod.state = 'going'
    mod.refcnt--
    k.area.free(mod.address)
    if (mod.initAddress) k.area.free(mod.initAddress)
    unrefAll(mod)
    k.modules = k.modules.filter((m) => m !== mod)
    mod.state = 'gone'
    return ret
  }
  if (ret > 0) {
    k.printk.log(
      KERN_WARNING,
      `do_init_module: '${mod.name}'->init suspiciously returned ${ret}, it should follow 0/-E convention\ndo_init_module: loading module anyway...`,
    )
  }
  mod.state = 'live'
  mod.refcnt--
  freeInit(k, mod)
  mod.initSize = 0
  if (mod.initAddress) k.area.free(mod.initAddress)
  mod.initAddress = 0n
  return 0
}

/** The defineModule() model inside the file; a corrupted one loads as a module whose init does nothing, with a note. */
function model(k: KernelState, mod: SimModule, elf: ElfFile, info: ModuleInfo): ModuleBehaviour {
  try {
    return embeddedBehaviour(elf) ?? { functions: {} }
  } catch (e) {
    k.notes.push(
      `${mod.name}: its defineModule() model cannot be read (${(e as Error).message}): it loaded with an init that does nothing; rebuild it with defineModule()`,
    )
    return { functions: {}, ...(info.hasInit ? { init: { actions: [], returns: 0 } } : {}) }
  }
}

export { EBUSY }
