// observe/: parsers of what the real tools and the kernel print. They import nothing but backend types.
export { parseProcModules, type ProcModule } from './proc-modules.js'
export { parseLsmod, type LsmodRow } from './lsmod.js'
export { parseRefcnt, parseHolders, parseInitstate, parseModuleTaint } from './sysfs.js'
export { TAINT_FLAGS, taintLetters, parseTainted, hasTaint } from './taint.js'
export { stripTimestamp, parseDmesg, unknownSymbols, versionMismatches, vermagicMismatch, invalidParams, ignoredParams } from './kernel-log.js'
export { classifyFailure, kindSatisfies, ERROR_KINDS, type ErrorKind, type ObservedError } from './kmod-errors.js'
export { errnoFromText, errnoNumber, errnoName } from '../contract/errno.js'
export { parseModinfo, parseModinfoField } from './modinfo.js'
